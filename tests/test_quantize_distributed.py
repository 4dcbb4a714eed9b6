"""QAT under tf.distribute: every replica ends with the same weights, ranges
and folded-BatchNormalization statistics (model-optimization#1068 is the
failure to avoid). Runs in a child process, which sets up two logical CPUs."""
import json
import pathlib
import subprocess
import sys

import pytest

SCRIPTS = pathlib.Path(__file__).resolve().parent / "scripts"


@pytest.mark.parametrize("flavour", ["keras", "tf_keras"])
def test_mirrored_strategy_replicas_agree(flavour):
    result = subprocess.run([sys.executable, str(SCRIPTS / "mirrored_qat.py"), flavour],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["replicas"] == 2
    assert any("moving_mean" in name for name in report["spread"])
    assert all(spread == 0.0 for spread in report["spread"].values()), report["spread"]
    assert report["trained_range"] > 0.0  # the output range was learned, not left at 0


def _free_ports(count):
    import socket
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.heavy
@pytest.mark.parametrize("flavour", ["keras", "tf_keras"])
def test_multi_worker_mirrored_strategy_workers_agree(flavour, tmp_path):
    """Two worker processes on 127.0.0.1 train one model together; both end
    with identical variables, ranges included."""
    ports = _free_ports(2)
    outputs = [tmp_path / f"worker{i}.json" for i in range(2)]
    workers = [subprocess.Popen([sys.executable, str(SCRIPTS / "multi_worker_qat.py"), flavour,
                                 str(i), str(ports[0]), str(ports[1]), str(outputs[i])],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for i in range(2)]
    try:
        results = [worker.communicate(timeout=600) for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
    for worker, (_, stderr) in zip(workers, results):
        assert worker.returncode == 0, stderr[-3000:]
    first, second = (json.loads(path.read_text()) for path in outputs)
    assert first.keys() == second.keys() and any("output_max" in k for k in first)
    for name in first:
        assert first[name] == second[name], name
