"""Strings of the login and of access control."""

MESSAGES = {
    "auth.username": {"fr": "Identifiant", "en": "Username"},
    "auth.password": {"fr": "Mot de passe", "en": "Password"},
    "auth.login": {"fr": "Se connecter", "en": "Log in"},
    "auth.login_sso": {"fr": "Se connecter avec le compte de l'hôpital", "en": "Log in with the hospital account"},
    "auth.logout": {"fr": "Se déconnecter", "en": "Log out"},
    "auth.wrong": {"fr": "Identifiant ou mot de passe incorrect.", "en": "Wrong username or password."},
    "auth.locked": {
        "fr": "Trop d'essais : compte bloqué 5 minutes. Réessayez plus tard ou demandez à un administrateur.",
        "en": "Too many attempts: account locked for 5 minutes. Try later or ask an administrator.",
    },
    "auth.unknown_sso": {
        "fr": "{email} n'est pas un utilisateur de MR-Linac QC : demandez à un administrateur de vous ajouter.",
        "en": "{email} is not a MR-Linac QC user: ask an administrator to add you.",
    },
    "auth.logged_in": {"fr": "Connecté : {name} ({role})", "en": "Logged in: {name} ({role})"},
    "auth.denied": {
        "fr": "Accès réservé : votre rôle ne permet pas cette action. Demandez à un physicien ou à un administrateur.",
        "en": "Restricted: your role does not allow this. Ask a physicist or an administrator.",
    },
    "role.operator": {"fr": "opérateur", "en": "operator"},
    "role.physicist": {"fr": "physicien", "en": "physicist"},
    "role.admin": {"fr": "administrateur", "en": "administrator"},
    "set.tab_users": {"fr": "Utilisateurs", "en": "Users"},
    "set.user_add": {"fr": "Ajouter un utilisateur", "en": "Add a user"},
    "set.user_name": {"fr": "Identifiant", "en": "Username"},
    "set.user_display": {"fr": "Nom affiché", "en": "Display name"},
    "set.user_email": {"fr": "E-mail (connexion SSO)", "en": "E-mail (SSO login)"},
    "set.user_role": {"fr": "Rôle", "en": "Role"},
    "set.user_password": {"fr": "Mot de passe initial (8 caractères min.)", "en": "Initial password (8 characters min.)"},
    "set.user_saved": {"fr": "Utilisateur enregistré.", "en": "User saved."},
    "set.user_update": {"fr": "Modifier un utilisateur", "en": "Change a user"},
    "set.user_active": {"fr": "Actif", "en": "Active"},
    "set.user_new_password": {"fr": "Nouveau mot de passe (laisser vide pour ne pas changer)", "en": "New password (leave empty to keep)"},
    "set.user_error": {"fr": "Refusé : {error}", "en": "Refused: {error}"},
}
