"""Locust's own output files from a perflab run, written by Locust's own code.

``--csv PREFIX`` (and ``--csv-full-history``), ``--html FILE``, ``--json`` and
``--json-file FILE`` mean what they mean to ``locust``: pipelines that read those files keep
working when ``locust`` becomes ``perflab run``. They hold Locust's statistics (its rounded
percentiles); perflab's exact figures are in the run directory.
"""

from __future__ import annotations

import logging
import os
from argparse import Namespace

import gevent

logger = logging.getLogger("perflab.run")


class LocustOutputs:
    """Started with the runner, finished after the users stopped, once per test."""

    def __init__(self, environment, options: Namespace | None) -> None:
        self.env = environment
        self.options = options
        self.csv_writer = None
        self._greenlets: list[gevent.Greenlet] = []

    def start(self) -> None:
        from locust import stats

        options = self.options
        # Locust's HTML report draws its charts from the runner's history, kept each second.
        self._greenlets.append(gevent.spawn(stats.stats_history, self.env.runner))
        if options is not None and options.csv_prefix:
            directory = os.path.dirname(options.csv_prefix)
            if directory:
                os.makedirs(directory, exist_ok=True)
            self.csv_writer = stats.StatsCSVFileWriter(
                self.env, stats.PERCENTILES_TO_REPORT, options.csv_prefix,
                options.stats_history_enabled,
            )  # fmt: skip
            self._greenlets.append(gevent.spawn(self.csv_writer.stats_writer))

    def finish(self) -> None:
        """The files as the test ended; a file that cannot be written is one log line and
        never costs perflab's own results."""
        from locust import stats

        for greenlet in self._greenlets:
            greenlet.kill(block=True)
        self._greenlets = []
        options = self.options
        if options is None:
            return
        runner_stats = self.env.runner.stats
        try:
            if self.csv_writer is not None:
                self._final_csv_rows()
                self.csv_writer.close_files()
                self.csv_writer = None
            if options.html_file:
                self._write_html()
            if options.json:
                stats.print_stats_json(runner_stats)
            if options.json_file:
                directory = os.path.dirname(options.json_file)
                if directory:
                    os.makedirs(directory, exist_ok=True)
                stats.save_stats_json(runner_stats, options.json_file)
        except OSError as exc:
            logger.error("Locust's output files: %s", exc)

    def _final_csv_rows(self) -> None:
        """Locust's writer rewrites its files each second; the last second is written here
        rather than lost with the killed greenlet (its own row methods, as its loop does)."""
        writer = self.csv_writer
        requests = writer.requests_csv_filehandle
        requests.seek(0)
        requests.truncate()
        writer.requests_csv_writer.writerow(writer.requests_csv_columns)
        writer._requests_data_rows(writer.requests_csv_writer)
        writer.failures_csv_filehandle.seek(writer.failures_csv_data_start)
        writer._failures_data_rows(writer.failures_csv_writer)
        writer.failures_csv_filehandle.truncate()
        writer.exceptions_csv_filehandle.seek(writer.exceptions_csv_data_start)
        writer._exceptions_data_rows(writer.exceptions_csv_writer)
        writer.exceptions_csv_filehandle.truncate()

    def _write_html(self) -> None:
        from locust.html import get_html_report, process_html_filename

        process_html_filename(self.options)  # {u} {r} {t} in the name, as Locust fills them
        path = self.options.html_file
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        with open(path, "w", encoding="utf-8") as file:
            file.write(get_html_report(self.env, show_download_link=False))
