"""The desktop app: tray icon, chat window, dashboard and settings (Qt lives here only)."""
