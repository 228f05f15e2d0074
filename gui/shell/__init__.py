"""The window frame: main window, ribbon, navigation, status bar, help and about."""
