"""Parts of the string catalogue, one module per area; merged by `qc.i18n`."""
