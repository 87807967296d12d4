"""Sweeps on real Dask clusters and real faults: a scheduler and workers started as processes,
workers killed mid-sweep, the sweep process itself killed and resumed. Every store is compared with
an uninterrupted sweep of the same spec.

All tests here start and kill processes, and two of them kill on cue from the store, so they share
one xdist group (one pytest worker, one after the other) and one cluster.
"""

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dask
import pandas as pd
import psutil
import pytest
from conftest import CHECKOUT_ENV as ENV
from distributed import Client, LocalCluster, get_task_stream

from sim.experiments import sweep as sw

pytestmark = pytest.mark.xdist_group("sweep_cluster")

TIMEOUT = 180  # seconds; a process still running then is killed and the test fails

TINY = """
[population]
n_citizens = 60
[providers]
n_providers = 2
capacity = 10
"""


def write_spec(folder: Path, name: str, steps: int, replicates: int, levels: int, keep_steps: bool) -> Path:
    """A full factorial over uncertainty x control (``levels`` each) of the tiny scenario."""
    (folder / "tiny.toml").write_text(TINY)
    grid = [round(0.1 + 0.8 * i / (levels - 1), 3) for i in range(levels)]
    path = folder / name
    path.write_text(f'[sweep]\nbase = ["target_driven", "{folder / "tiny.toml"}"]\nsteps = {steps}\n'
                    f"replicates = {replicates}\nseed = 5\nkeep_steps = {str(keep_steps).lower()}\n"
                    f"[parameters.uncertainty]\nlevels = {grid}\n[parameters.control]\nlevels = {grid}\n")
    return path


def read_store(store: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The summary sorted by run, and the per-month tables sorted by run and month."""
    summary = pd.read_parquet(store / "summary").sort_values("run").reset_index(drop=True)
    steps = pd.read_parquet(store / "steps").sort_values(["run", "month"]).reset_index(drop=True)
    return summary, steps


def runs_in(store: Path) -> int:
    return len(sw.done_runs(store)) if (store / "summary").is_dir() else 0


def wait_until(condition, what: str, process: subprocess.Popen | None = None, timeout: float = TIMEOUT):
    """Poll ``condition`` every 20 ms; fail if it takes too long or ``process`` ends first."""
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert process is None or process.poll() is None, f"the sweep ended before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
    return found


def sweep_process(*args: str, cwd: Path) -> subprocess.Popen:
    """``python -m sim sweep ARGS`` in a process of its own; its progress bar and logs go to
    ``cwd/sweep.err`` (a pipe nobody reads while the test polls could fill up and stall it).
    """
    with open(cwd / "sweep.err", "a") as err:
        return subprocess.Popen([sys.executable, "-m", "sim", "sweep", *args], cwd=cwd, env=ENV, text=True,
                                stdout=subprocess.PIPE, stderr=err)


def finish(process: subprocess.Popen, cwd: Path) -> str:
    """Wait for a sweep process started in ``cwd``; its standard output, after checking that it
    succeeded.
    """
    try:
        out, _ = process.communicate(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, (cwd / "sweep.err").read_text()[-3000:]
    return out


class Cluster:
    """A ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1, with free ports.

    Each process leads a session of its own, so killing its process group kills a worker and its
    nanny together, as when a machine is lost.
    """

    def __init__(self, folder: Path):
        self.folder = folder
        self.file = folder / "scheduler.json"
        self.processes: list[subprocess.Popen] = []
        self.logs = []
        self.workers: list[subprocess.Popen] = []
        scheduler = self._start("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                "--scheduler-file", str(self.file))
        self.address = wait_until(lambda: self._address(scheduler), "the scheduler's address")
        self.client = Client(self.address, timeout="60s")

    def _start(self, kind: str, *args: str) -> subprocess.Popen:
        log = open(self.folder / f"{kind}-{len(self.processes)}.log", "w")  # closed in close()
        self.logs.append(log)
        process = subprocess.Popen([sys.executable, "-m", "dask", kind, *args], cwd=self.folder, env=ENV,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(process)
        return process

    def _address(self, scheduler: subprocess.Popen) -> str | None:
        assert scheduler.poll() is None, "the scheduler exited"
        try:
            return json.loads(self.file.read_text())["address"]
        except (OSError, ValueError, KeyError):
            return None

    def ensure_workers(self, n: int) -> None:
        """Start workers until ``n`` are alive (after a test killed some), and wait for them."""
        self.workers = [w for w in self.workers if w.poll() is None]
        while len(self.workers) < n:
            self.workers.append(self._start("worker", "--scheduler-file", str(self.file), "--nworkers", "1",
                                            "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard"))
        self.client.wait_for_workers(n, timeout=TIMEOUT)
        wait_until(lambda: len(self.client.scheduler_info()["workers"]) == n, f"{n} workers")

    def pid(self, worker: str) -> int:
        """The process id of the worker at address ``worker`` (its nanny's child)."""
        return self.client.run(os.getpid, workers=[worker])[worker]

    def busy(self, sweep: subprocess.Popen, worker: str | None = None) -> str:
        """Wait until ``worker`` (or any worker) is running a batch of ``sweep``; its address."""
        def running():
            busy = [w for w, keys in self.client.processing().items() if keys and worker in (None, w)]
            return busy[0] if busy else None
        return wait_until(running, "a busy worker", sweep)

    def close(self) -> None:
        self.client.close()
        for process in self.processes:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()
        for log in self.logs:
            log.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """A spec of 5 x 5 points x 6 replicates (150 runs of 12 months) and its store, swept by one
    local worker without interruption.
    """
    folder = tmp_path_factory.mktemp("reference")
    path = write_spec(folder, "spec.toml", steps=12, replicates=6, levels=5, keep_steps=True)
    spec = sw.load_spec(path)
    assert len(sw.expand(spec)) == 150
    sw.run_sweep(spec, folder / "store", workers=1, progress=False)
    return path, spec, *read_store(folder / "store")


def test_a_real_scheduler_and_two_workers_give_the_store_of_one_local_worker(cluster, reference, tmp_path):
    path, spec, summary, steps = reference
    cluster.ensure_workers(2)
    with get_task_stream(client=cluster.client) as stream:
        counts = sw.run_sweep(spec, tmp_path / "store", scheduler=cluster.address, progress=False)
    assert counts == {"runs": 150, "skipped": 0, "ok": 150, "failed": 0}
    assert {task["worker"] for task in stream.data} == set(cluster.client.scheduler_info()["workers"])
    got_summary, got_steps = read_store(tmp_path / "store")
    pd.testing.assert_frame_equal(got_summary, summary)
    pd.testing.assert_frame_equal(got_steps, steps)
    assert len(cluster.client.scheduler_info()["workers"]) == 2  # the sweep leaves the cluster running


def test_workers_killed_mid_sweep_neither_lose_nor_repeat_a_run(cluster, reference, tmp_path):
    """A machine is lost (a worker and its nanny), then the last original worker's process is
    killed (as the kernel's OOM killer would) and its nanny starts a fresh one: no worker that saw
    the start of the sweep is left. The scheduler runs the lost batches again.
    """
    path, spec, summary, steps = reference
    cluster.ensure_workers(2)
    store = tmp_path / "store"
    sweep = sweep_process(str(path), "--out", str(store), "--scheduler", cluster.address, cwd=tmp_path)
    try:
        wait_until(lambda: runs_in(store) > 0, "the first batch", sweep)
        lost = cluster.busy(sweep)
        os.killpg(os.getpgid(cluster.pid(lost)), signal.SIGKILL)
        wait_until(lambda: lost not in cluster.client.scheduler_info()["workers"], "the scheduler to drop it")
        before = runs_in(store)
        wait_until(lambda: runs_in(store) > before, "another batch", sweep)
        [survivor] = cluster.client.scheduler_info()["workers"]
        cluster.busy(sweep, survivor)
        old_pid = cluster.pid(survivor)
        os.kill(old_pid, signal.SIGKILL)
        assert runs_in(store) < 150, "the sweep finished before the second kill: make the runs longer"
        out = finish(sweep, tmp_path)
    finally:
        if sweep.poll() is None:
            sweep.kill()
            sweep.wait()
    assert "150 runs: 0 already done, 150 ok, 0 failed" in out
    got_summary, got_steps = read_store(store)
    assert got_summary["run"].is_unique and got_steps.groupby("run").size().eq(13).all()
    pd.testing.assert_frame_equal(got_summary, summary)
    pd.testing.assert_frame_equal(got_steps, steps)
    # the lost machine stayed lost; the killed process came back as a new one
    workers = cluster.client.scheduler_info()["workers"]
    assert lost not in workers and [cluster.pid(w) for w in workers] != [old_pid]


def test_a_sweep_of_500_runs_killed_and_resumed_equals_an_uninterrupted_one(cluster, tmp_path):
    """The sweep process, with its two local workers, killed once a sized batch has landed."""
    path = write_spec(tmp_path, "spec.toml", steps=2, replicates=20, levels=5, keep_steps=True)
    spec = sw.load_spec(path)
    assert len(sw.expand(spec)) == 500
    cluster.ensure_workers(2)  # the uninterrupted sweep, on the cluster that is already up
    sw.run_sweep(spec, tmp_path / "uninterrupted", scheduler=cluster.address, progress=False)
    summary, steps = read_store(tmp_path / "uninterrupted")

    store = tmp_path / "store"
    sweep = sweep_process(str(path), "--out", str(store), "--workers", "2", cwd=tmp_path)
    try:
        # past the first (timed) runs, once a sized batch has landed
        wait_until(lambda: len(list((store / "summary").glob("part-*.parquet"))) > 2, "a batch", sweep)
        children = psutil.Process(sweep.pid).children(recursive=True)
        sweep.send_signal(signal.SIGKILL)
        sweep.wait()
        # its local workers end with it rather than compute on for nobody
        _, alive = psutil.wait_procs(children, timeout=30)
        for process in alive:
            process.kill()
        assert not alive
    finally:
        if sweep.poll() is None:
            sweep.kill()
            sweep.wait()
    done = runs_in(store)
    assert 0 < done < 500, "the kill came after the sweep ended"

    # resumed on the running cluster (any cluster will do: each run's seed is its own)
    resumed = sweep_process(str(path), "--out", str(store), "--scheduler", cluster.address, "--resume",
                            cwd=tmp_path)
    out = finish(resumed, tmp_path)
    assert f"500 runs: {done} already done, {500 - done} ok, 0 failed" in out
    got_summary, got_steps = read_store(store)
    assert got_summary["run"].is_unique and got_steps.groupby("run").size().eq(3).all()
    pd.testing.assert_frame_equal(got_summary, summary)
    pd.testing.assert_frame_equal(got_steps, steps)
    assert not list(store.rglob("*.tmp"))


def test_a_run_that_keeps_killing_its_worker_is_recorded_as_failed_and_the_sweep_goes_on(tmp_path):
    """A run of a million citizens needs about 470 MiB on top of the 210 MiB a worker holds with
    the model imported, over the worker's limit of 500 MiB, so the worker's nanny kills it; with
    no failures allowed the scheduler gives up on the batch at once (Dask's KilledWorker). The
    sweep splits the batch, finishes the small run, and records the big one as failed.
    """
    (tmp_path / "tiny.toml").write_text(TINY)
    spec = sw.parse_spec({"sweep": {"base": ["target_driven", str(tmp_path / "tiny.toml")], "steps": 2,
                                    "seed": 1, "batch_size": 2},
                          "parameters": {"n_citizens": {"levels": [60, 1_000_000]}}})
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
            LocalCluster(n_workers=1, threads_per_worker=1, memory_limit="500MiB", dashboard_address=":0",
                         silence_logs=logging.CRITICAL) as local:
        counts = sw.run_sweep(spec, tmp_path / "store", scheduler=local.scheduler_address, progress=False)
    assert counts == {"runs": 2, "skipped": 0, "ok": 1, "failed": 1}
    store = pd.read_parquet(tmp_path / "store" / "summary").sort_values("run").reset_index(drop=True)
    assert store["status"].tolist() == ["ok", "failed"]
    assert store.loc[1, "error"].startswith("KilledWorker: its worker died 1 time(s)")
    assert pd.isna(store.loc[1, "final_mean_wellbeing"])
    bases = sw.base_scenarios(spec)
    alone, _ = sw.run_batch(bases, sw.expand(spec)[:1], 2, 1, False, sw.measure_columns(bases))
    pd.testing.assert_frame_equal(store.iloc[[0]].astype(alone.dtypes.to_dict()), alone)


def test_sensitivity_through_a_real_scheduler_gives_the_indices_of_one_local_worker(cluster, tmp_path):
    from typer.testing import CliRunner

    from sim.cli import app

    (tmp_path / "tiny.toml").write_text(TINY)
    spec = tmp_path / "morris.toml"
    spec.write_text(f'[sweep]\nbase = ["learning_oriented", "{tmp_path / "tiny.toml"}"]\ndesign = "morris"\n'
                    'samples = 4\nsteps = 4\nseed = 3\n[parameters.uncertainty]\nmin = 0.0\nmax = 1.0\n'
                    '[parameters.shared_purpose]\nmin = 0.0\nmax = 1.0\n')
    cluster.ensure_workers(2)
    indices = {}
    for where, how in (("local", ["--workers", "1"]), ("cluster", ["--scheduler", cluster.address])):
        result = CliRunner().invoke(app, ["sensitivity", str(spec), "--out", str(tmp_path / where), *how])
        assert result.exit_code == 0, result.output
        indices[where] = pd.read_csv(tmp_path / where / "indices.csv")
    pd.testing.assert_frame_equal(indices["cluster"], indices["local"])
    found = indices["local"].set_index("measure")["mu_star"]
    # every measure the spec reads is defined in every run, so every one has an index
    assert found.notna().all()
