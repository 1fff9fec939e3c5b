"""Errors about input files: one type that says which file, which line and which field is wrong.

Readers of instance and solution files (MDRP days, scenarios) raise ``InputError`` instead of a bare
``ValueError`` or ``KeyError`` so that a planner who hands the simulator a broken file is told where
to look, e.g. ``orders.txt line 7, field ready_time: 'abc' is not a whole number``.
"""
from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """A file the simulator was asked to read is missing, malformed or breaks a rule of its format.

    ``path`` is the file (or directory) at fault, ``line`` the 1-based physical line (the header is
    line 1) or ``None`` when the whole file is at fault, ``field`` the column name or ``None``.
    ``str()`` shows only the file name when a line is given (the line pins the place) and the whole
    path otherwise (a missing file or directory is easier to find by its full path).
    """

    def __init__(self, path: str | Path, message: str, line: int | None = None, field: str | None = None) -> None:
        self.path = Path(path)
        self.line = line
        self.field = field
        self.message = message
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = self.path.name if self.line is not None else str(self.path)
        if self.line is not None:
            where += f" line {self.line}"
        if self.field is not None:
            where += f", field {self.field}"
        return f"{where}: {self.message}"

    def __reduce__(self) -> tuple[type[InputError], tuple[Path, str, int | None, str | None]]:
        # keep the error picklable (Ray ships exceptions between processes)
        return (InputError, (self.path, self.message, self.line, self.field))
