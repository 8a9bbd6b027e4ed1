"""nbgrader's ``Execute`` for every notebook, the kit's trusted executor for kit notebooks.

For a notebook whose source is a kit notebook (:func:`autograder.nbgrader_ext.kit.kit_source`),
execution goes to :class:`autograder.executor.GradingClient`: a grading kernel that holds nothing of the
grader and cannot read the course (its walls deny the course folder but the notebook's own), check cells
graded in this process, restart-and-replay after a hung or crashing cell, the memory cap and the notebook time limit
(:mod:`autograder.limits`). Every other notebook runs through nbgrader's own ``Execute``, with its
own settings (``Execute.timeout``, ``interrupt_on_timeout``, ``error_on_timeout``...) untouched.
"""
from __future__ import annotations

from pathlib import Path

from nbgrader.preprocessors import Execute
from traitlets import Unicode

from autograder.nbgrader_ext.kit import course_directory, kit_source

_FINGERPRINTS: dict[tuple[str, str], object] = {}


class KitExecute(Execute):
    """Execute, with kit notebooks graded on the kit's trusted executor."""

    expected_code = Unicode("", help="fingerprint of the grader's files that grading must use (class-grade sets "
                                     "it); empty: the files as this process first saw them").tag(config=True)
    expected_data = Unicode("", help="fingerprint of the MNIST folders (class-grade sets it)").tag(config=True)
    results_dir = Unicode("", help="where class-grade stored the notebooks its Dask workers executed "
                                   "(autograder.distributed.ResultStore); empty: execute here").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        if kit_source(self.config, resources, self) is None:
            return super().preprocess(nb, resources, km)
        from autograder.executor import GradingClient

        workdir = Path((resources or {}).get("metadata", {}).get("path") or ".")
        if self.results_dir:
            executed = self._stored(nb, resources, workdir)
            if executed is not None:
                return executed, resources
        coursedir = course_directory(self)
        client = GradingClient(nb, workdir=workdir, fingerprints=self._fingerprints(),
                               course=Path(coursedir.root).resolve() if coursedir is not None else None)
        client.log = self.log
        graded = client.grade()
        for note in client.notes:
            self.log.warning("%s: %s", (resources or {}).get("nbgrader", {}).get("student", "?"), note)
        return graded, resources

    def _stored(self, nb, resources, workdir: Path):
        """The outputs a Dask worker computed for this very notebook, or None (then it runs here)."""
        from autograder.distributed import ResultStore, student_files

        info = (resources or {}).get("nbgrader", {})
        store = ResultStore(Path(self.results_dir))
        executed, why = store.outputs_for(nb, info.get("student", ""), info.get("notebook", ""),
                                          self._fingerprints().code, student_files(workdir))
        if executed is None:
            self.log.warning("%s/%s: executing here: %s", info.get("student"), info.get("notebook"), why)
        return executed

    def _fingerprints(self):
        from autograder.fingerprint import Fingerprints

        key = (self.expected_code, self.expected_data)
        if key not in _FINGERPRINTS:
            _FINGERPRINTS[key] = Fingerprints(code=self.expected_code or None, data=self.expected_data or None)
        return _FINGERPRINTS[key]
