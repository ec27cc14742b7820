"""The chat widget in a real browser (Playwright on a system Chromium) against `lucine serve`."""
