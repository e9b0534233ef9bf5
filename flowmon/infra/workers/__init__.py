"""Where worker nodes run: flowmon's own pool of local processes, or a Dask distributed cluster.

Both implement :class:`flowmon.engine.runtime.executor.WorkerPool`; the composition root builds one from the
settings (``FLOWMON_DASK_SCHEDULER`` set: :class:`~flowmon.infra.workers.dask.DaskWorkers`, otherwise
:class:`~flowmon.infra.workers.local.LocalProcessPool` of ``FLOWMON_WORKERS`` processes), starts it in
``app.on_startup`` and stops it in ``app.on_shutdown``. Nothing here starts at import time. The Dask module is
imported only when a cluster is configured.
"""
