"""SAML 2.0: IdP metadata (CreateSAMLProvider) and signed responses (AssumeRoleWithSAML)."""
