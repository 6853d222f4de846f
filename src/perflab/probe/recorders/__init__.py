"""The built-in recorders, one module each (``sql``, ``cache``, ``templates``); the
interface is ``base.Recorder``, and ``PERFLAB["RECORDERS"]`` lists the ones a process runs."""
