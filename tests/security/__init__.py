"""Cross-cutting security checks (OWASP LLM Top 10, privacy): see docs/readme/security.md."""
