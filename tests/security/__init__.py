"""Cross-cutting security checks (OWASP LLM Top 10, privacy): see the README section "What it withstands"."""
