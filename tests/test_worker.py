"""`disrupt worker` schedules every job at its configured interval, and each job runs on an
empty database (the wiring, not the jobs' own logic, which their packages test)."""
from __future__ import annotations

from disrupt.worker import build_scheduler
from tests.support.apps import make_test_app

INTERVALS = {
    "heartbeat": "WORKER_TICK_SECONDS",
    "check-due-urls": "WORKER_TICK_SECONDS",
    "send-queued-notices": "WORKER_TICK_SECONDS",
    "raise-overdue-requests": "WORKER_TICK_SECONDS",
    "fold-statistics": "STATS_FOLD_SECONDS",
    "send-victim-updates": "VICTIM_UPDATE_SECONDS",
    "send-contact-confirmations": "VICTIM_UPDATE_SECONDS",
    "purge-retention": "RETENTION_PURGE_SECONDS",
    "purge-sessions": "RETENTION_PURGE_SECONDS",
    "evidence-captures": "WORKER_TICK_SECONDS",
    "purge-evidence": "RETENTION_PURGE_SECONDS",
    "trace-hosts": "TRACE_SECONDS",
}


def test_every_job_is_scheduled_at_its_setting_and_runs(database_url, tmp_path):
    settings = {"WORKER_TICK_SECONDS": 2.0, "STATS_FOLD_SECONDS": 3.0,
                "VICTIM_UPDATE_SECONDS": 7.0, "RETENTION_PURGE_SECONDS": 11.0,
                "TRACE_SECONDS": 13.0}
    app = make_test_app(database_url, tmp_path, **settings)
    db = app.extensions["disrupt.db"]
    try:
        scheduler = build_scheduler(db, app.config, worker="test-worker")
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert set(jobs) == set(INTERVALS)
        for job_id, setting in INTERVALS.items():
            job = jobs[job_id]
            assert job.trigger.interval.total_seconds() == settings[setting], job_id
            assert job.max_instances == 1 and job.coalesce
            job.func(*job.args, **job.kwargs)  # nothing to do, and no error
    finally:
        db.dispose()


def test_the_mailbox_is_read_only_when_imap_host_is_set(database_url, tmp_path):
    from disrupt.demo.simulator import free_port

    app = make_test_app(database_url, tmp_path, IMAP_HOST="127.0.0.1", IMAP_PORT=free_port(),
                        IMAP_POLL_SECONDS=17.0, SEND_TIMEOUT_SECONDS=2.0)
    db = app.extensions["disrupt.db"]
    try:
        jobs = {job.id: job for job in build_scheduler(db, app.config, worker="w").get_jobs()}
        assert "read-platform-replies" in jobs
        job = jobs["read-platform-replies"]
        assert job.trigger.interval.total_seconds() == 17.0
        assert job.func(*job.args, **job.kwargs) == 0  # no server there: logged, no crash
    finally:
        db.dispose()


def test_startup_objects_are_kept_out_of_full_collections():
    import gc

    from disrupt.worker import freeze_startup_objects

    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    try:
        freeze_startup_objects()
        assert gc.get_freeze_count() > 0  # the modules loaded so far, at least
    finally:
        gc.unfreeze()
