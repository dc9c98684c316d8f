"""The French user guide (docs/guide/) covers every test of the registry, its pictures exist and stay small, its
links resolve, it quotes the app's own labels, and the app's reader (`qc.guide`) shows it without links or HTML."""

from __future__ import annotations

import re

import pytest

from conftest import REPO
from qc import guide
from qc.i18n import t
from qc.registry import MENU_GROUPS, builtin_tests

GUIDE = REPO / "docs" / "guide"
PAGES = sorted(GUIDE.glob("*.md"))
MAX_PNG_BYTES = 450_000


def test_every_test_of_the_registry_has_a_guide_page_or_section():
    missing = []
    for spec in builtin_tests():
        text = guide.page_text(spec.key, spec.name_fr)
        if text is None or spec.name_fr not in text:
            missing.append(f"{spec.key} ({spec.name_fr})")
        elif spec.kind == "logged" and f"## {spec.name_fr}" not in text:
            missing.append(f"{spec.key}: no section « {spec.name_fr} » in {guide.LOGGED_PAGE}")
    assert missing == []


@pytest.mark.parametrize("study", sorted(MENU_GROUPS))
def test_each_study_page_has_a_guide_page_linking_its_tests(study):
    text = guide.page_text(study)
    assert text is not None
    for key in MENU_GROUPS[study]:
        assert f"({key}.md)" in text, (study, key)


def test_each_test_page_says_what_to_acquire_how_to_read_it_and_what_to_do_when_it_fails():
    for spec in builtin_tests():
        if spec.kind == "logged":
            continue
        text = guide.page_text(spec.key)
        for heading in ("## Ce qu'il faut acquérir", "## Envoyer", "## Lire le résultat", "## Que faire en cas d'échec"):
            assert heading in text, (spec.key, heading)
        assert f"![" in text and f"(images/{spec.key}.png)" in text, spec.key


def test_every_picture_of_the_guide_exists_and_is_small():
    from PIL import Image

    for page in PAGES:
        for src in guide.images_of(page.read_text(encoding="utf-8")):
            path = GUIDE / src
            assert path.is_file(), f"{page.name}: {src} missing (tests/test_browser_guide.py takes it)"
            assert path.stat().st_size <= MAX_PNG_BYTES, (src, path.stat().st_size)
            with Image.open(path) as img:
                assert img.width <= 1400, (src, img.size)


def test_every_link_between_guide_pages_resolves():
    for page in PAGES:
        for target in guide.links_of(page.read_text(encoding="utf-8")):
            assert not re.match(r"[a-z]+://", target), f"{page.name}: {target} leaves the intranet"
            assert (GUIDE / target.split("#", 1)[0]).is_file(), f"{page.name}: broken link {target}"


def test_the_guide_holds_no_raw_html():
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"<\s*/?\s*[a-zA-Z][^>]*>", text), page.name


# The app's labels the guide quotes: if one changes in qc/messages, the guide must follow.
QUOTED_LABELS = ["ui.try_demo", "ui.save", "ui.set_baseline", "ui.see_history", "ui.upload", "ui.upload_button",
                 "ui.overall", "ui.operator", "ui.comment", "status.pass", "status.warning", "status.fail",
                 "status.none", "status.not_measured", "intake.review.title", "intake.review.confirm",
                 "intake.review.reject", "intake.review.reason", "intake.unassigned.title", "hist.pick_session",
                 "hist.export_csv", "hist.export_xlsx", "hist.void_btn", "hist.make_pdf", "record.reanalyse",
                 "spc.toggle", "rep.generate", "rep.download", "home.title", "home.due_list", "home.overdue",
                 "guide.open", "sig.kind.reviewed", "sig.kind.approved", "sig.sign_button", "ui.acquisition_date",
                 "ui.acquisition_date_use", "ui.duplicate_confirm"]


def _flat(text: str) -> str:
    """The text as markdown shows it: a line break inside a paragraph is a space."""
    return re.sub(r"\s+", " ", text)


@pytest.mark.parametrize("key", QUOTED_LABELS)
def test_the_index_quotes_the_apps_labels_exactly(key):
    assert t(key, "fr") in _flat((GUIDE / "index.md").read_text(encoding="utf-8")), (key, t(key, "fr"))


def test_logged_page_quotes_each_field_label():
    from qc.records.logged import BUILTIN_LOGGED

    text = _flat((GUIDE / guide.LOGGED_PAGE).read_text(encoding="utf-8"))
    missing = [f"{lt.key}: {f.label('fr')}" for lt in BUILTIN_LOGGED for f in lt.fields if f"« {f.label('fr')} »" not in text]
    assert missing == []


def test_app_blocks_turn_links_into_text_and_pictures_into_files():
    text = guide.page_text("slits")
    assert "[Position des lames](leaves.md)" in text and "[retour au sommaire](index.md)" in text
    blocks = guide.blocks(text)
    images = [b for b in blocks if b.kind == "image"]
    assert images and all(b.path.is_file() and b.path.parent == GUIDE / "images" for b in images)
    shown = "\n".join(b.text for b in blocks if b.kind == "text")
    assert "](" not in shown and "Position des lames" in shown
    assert "sommaire" not in shown and "menu « Tests quotidiens et hebdomadaires › MVIC Fente »\n" in shown


def test_logged_section_is_the_introduction_and_that_test_only():
    text = guide.page_text("helium", "Niveau hélium")
    assert text.startswith("# Tests consignés") and "## Niveau hélium" in text
    assert "## Position table" not in text and "## Sécurités quotidiennes" not in text
    # a logged test defined in Settings: the introduction (how every logged test is entered)
    custom = guide.page_text("my_own_test", "Mon test à moi")
    assert custom.startswith("# Tests consignés") and "## " not in custom


def test_a_missing_picture_becomes_its_caption_never_a_broken_image(tmp_path):
    (tmp_path / "x.md").write_text("# X\n\n![Le champ annoté](images/absent.png)\n\n![Hors du guide](../../etc/passwd)\n", encoding="utf-8")
    blocks = guide.blocks(guide.page_text("x", guide_dir=tmp_path), guide_dir=tmp_path)
    assert [b.kind for b in blocks] == ["text", "text", "text"]
    assert blocks[1].text == "*Le champ annoté*" and blocks[2].text == "*Hors du guide*"
    assert guide.page_text("nothing", guide_dir=tmp_path) is None


def test_each_kind_of_test_page_shows_the_guide_button_and_it_opens_the_guide(qc_data_dir):
    """One page per place that draws a page header (image test, MR-Linac test, logged test, the two MR study pages):
    the « Guide d'utilisation » button is there; on the leaf page, a click shows the guide's page in the app."""
    from streamlit.testing.v1 import AppTest

    from tests.pages_nav import open_page

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.session_state["lang"] = "fr"
    at.run()
    label = t("guide.open", "fr")
    for page, logged in [("leaves", None), ("mr-b0", None), ("pages/logged.py", "helium"),
                         ("mr-image", None), ("mr-linac", None)]:
        if logged:
            at.session_state["_logged_test"] = logged
        open_page(at, page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert [b for b in at.button if b.label == label], f"{page}: no « {label} » button"
    open_page(at, "leaves").run()
    next(b for b in at.button if b.label == label).click().run()
    shown = "\n".join(m.value for m in at.markdown)
    assert "Que faire en cas d'échec" in shown and "## Lire le résultat" in shown
    assert "](" not in shown  # links shown as their text
