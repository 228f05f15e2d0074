"""The job wizard's page stays put from step to step, whether a step's description
takes one line or wraps to two."""
from __future__ import annotations

from PySide6.QtCore import QPoint
from pytestqt.qtbot import QtBot

from PySide6.QtWidgets import QApplication, QLabel

from gui.widgets.resources import style_sheet
from gui.widgets.wizard import WizardFrame


def test_a_wrapping_description_does_not_push_the_page(qtbot: QtBot) -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    app.setStyleSheet(style_sheet())   # the console's fonts, as in the real window
    wizard = WizardFrame("New Agent Backup Job", "job")
    qtbot.addWidget(wizard)
    wizard.add_step("Short", "One line.", QLabel("first page"))
    wizard.add_step("Long", "A description long enough to wrap onto a second line in the "
                    "wizard's header, as some of the job wizard's steps do, and more words "
                    "to be sure it wraps at any font.", QLabel("second page"))
    wizard.show()
    qtbot.waitUntil(wizard.isVisible)

    def page_top() -> QPoint:
        wizard.layout().activate()
        return wizard.stack.mapTo(wizard, QPoint(0, 0))

    first = page_top()
    wizard.go_to(1)
    assert wizard.description_label.heightForWidth(wizard.description_label.width()) > \
        wizard.description_label.fontMetrics().lineSpacing() * 1.5   # it wraps
    assert page_top() == first
    app.setStyleSheet("")
