"""The job wizard's page stays put from step to step, whether a step's description
takes one line or wraps to two.

A description's new text is laid out only when Qt handles the label's posted layout
request, not at once: each test waits until the description label shows its whole text
(it has been laid out) before it measures where the page starts."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtWidgets import QApplication, QLabel
from pytestqt.qtbot import QtBot

from gui.app import apply_look
from gui.jobs.wizard import wizard as job_wizard
from gui.widgets.wizard import WizardFrame

WIZARD_SIZE = (860, 600)   # what the job and copy wizards ask for


@pytest.fixture
def console_look() -> Iterator[None]:
    """The console's style, font and style sheet, as in the real window."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    apply_look(app)   # kept: the console's look is what every window test expects
    yield


def _text_height(label: QLabel) -> int:
    """How tall the label's text is, wrapped at the label's width (the label's own
    heightForWidth answers its fixed height once that is set)."""
    room = QRect(0, 0, label.contentsRect().width(), 10_000)
    return label.fontMetrics().boundingRect(room, Qt.TextFlag.TextWordWrap,
                                            label.text()).height()


def _wraps(wizard: WizardFrame) -> bool:
    label = wizard.description_label
    return _text_height(label) > label.fontMetrics().lineSpacing() * 1.5


def _page_top_at(qtbot: QtBot, wizard: WizardFrame, index: int) -> int:
    wizard.go_to(index)
    label = wizard.description_label
    # Laid out: the label is as tall as its text needs (or its reserved room is).
    qtbot.waitUntil(lambda: label.contentsRect().height() >= _text_height(label))
    return wizard.stack.mapTo(wizard, QPoint(0, 0)).y()


def test_a_wrapping_description_does_not_push_the_page(qtbot: QtBot,
                                                       console_look: None) -> None:
    wizard = WizardFrame("New Agent Backup Job", "job")
    qtbot.addWidget(wizard)
    wizard.add_step("Short", "One line.", QLabel("first page"))
    wizard.add_step("Long", "A description long enough to wrap onto a second line in the "
                    "wizard's header, as some of the job wizard's steps do, and more words "
                    "to be sure it wraps at any font.", QLabel("second page"))
    wizard.resize(*WIZARD_SIZE)
    wizard.show()
    qtbot.waitExposed(wizard)

    first = _page_top_at(qtbot, wizard, 0)
    assert not _wraps(wizard)
    second = _page_top_at(qtbot, wizard, 1)
    assert _wraps(wizard)
    assert second == first
    assert _page_top_at(qtbot, wizard, 0) == first


def test_the_job_wizards_steps_start_their_page_at_one_height(
        qtbot: QtBot, console_look: None) -> None:
    """The job wizard's own descriptions at the size it asks for: every step's page
    starts at the same height (at 860 px the Storage step's description wraps; the
    real job wizard is now wider, as its Storage page needs, and none wraps there)."""
    steps = job_wizard.STEPS
    wizard = WizardFrame("New Agent Backup Job", "job")
    qtbot.addWidget(wizard)
    for title, description in steps:
        wizard.add_step(title, description, QLabel(title))
    wizard.resize(*WIZARD_SIZE)
    wizard.show()
    qtbot.waitExposed(wizard)

    tops = {}
    wrapping = []
    for index, (title, _description) in enumerate(steps):
        tops[title] = _page_top_at(qtbot, wizard, index)
        if _wraps(wizard):
            wrapping.append(title)
    assert wrapping, "no step's description wraps: the test would prove nothing"
    assert len(set(tops.values())) == 1, tops
