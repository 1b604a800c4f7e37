"""The terminal path, in a real pseudo-terminal (pexpect): live progress bars and Ctrl-C choices."""

from __future__ import annotations

import re

import pexpect

from tests.support.cli import spawn, write_json
from tests.support.specs import SMALL_MNIST_JOB, TUTORIAL_XOR_JOB, with_training


def test_watch_draws_live_bars_with_loss_accuracy_and_eta(url, tmp_path):
    """However fast the job, the bars are drawn and every finished epoch is printed above them.

    The output is read to the end and matched line by line: pexpect compiles patterns with
    DOTALL, so a greedy `.*` over output that arrives in one read would swallow later lines."""
    spec = write_json(tmp_path / "mnist.json", with_training(SMALL_MNIST_JOB, epochs=2))
    terminal = spawn("train", spec, "--watch", url=url)
    terminal.expect(pexpect.EOF)
    terminal.close()
    assert terminal.exitstatus == 0
    output = terminal.before
    line = "[^\\r\\n]*"
    in_order = [rf"epochs{line}━{line}\d+/2{line}ETA",  # the run bar, redrawn in place
                r"epoch 1/2  loss \d\.\d{4}  acc \d\.\d{4}  val_loss",
                r"epoch 2/2  loss \d\.\d{4}  acc \d\.\d{4}  val_loss",
                r"test accuracy 0\.\d{4} \(\d+/10000\)", r"model [0-9a-f]{32}"]
    position = 0
    for pattern in in_order:
        found = re.compile(pattern).search(output, position)
        assert found, (pattern, output[position:][-2000:])
        position = found.end()
    assert re.search(rf"batches{line}━{line}\d+/\d+", output), output  # the epoch's bar over its batches
    assert re.search(rf"epochs{line}2/2{line}loss \d\.\d{{4}}  acc \d\.\d{{4}}{line}ETA", output), output


def test_local_training_shows_the_same_bars(tmp_path):
    spec = write_json(tmp_path / "xor.json", TUTORIAL_XOR_JOB)
    terminal = spawn("train", spec, "--local", "--epochs", "200")
    terminal.expect(r"epochs.*━.*/200.*ETA")
    terminal.expect(r"test accuracy 1\.0000 \(4/4\)")
    terminal.expect(pexpect.EOF)
    terminal.close()
    assert terminal.exitstatus == 0


def test_ctrl_c_while_watching_offers_cancel_stop_and_detach(url, client, tmp_path):
    spec = write_json(tmp_path / "long.json", with_training(SMALL_MNIST_JOB, epochs=50))
    terminal = spawn("train", spec, "--watch", url=url)
    terminal.expect(r"job ([0-9a-f]{32})")
    job_id = terminal.match.group(1)
    terminal.expect(r"batches.*━.* \d+/\d+")  # training has started
    terminal.sendintr()
    terminal.expect(r"\[c\]ancel it, \[s\]top it and keep the model so far, or \[d\]etach")
    terminal.sendline("c")
    terminal.expect(rf"job {job_id} cancelled")
    terminal.expect(pexpect.EOF)
    terminal.close()
    assert terminal.exitstatus == 1
    assert client.job(job_id).status == "cancelled"

    terminal = spawn("train", spec, "--watch", url=url)
    terminal.expect(r"job ([0-9a-f]{32})")
    job_id = terminal.match.group(1)
    terminal.expect(r"epoch +1/50  loss")  # an epoch is done: there is something to keep
    terminal.sendintr()
    terminal.expect(r"\[s\]top it and keep the model so far")
    terminal.sendline("s")
    terminal.expect(r"stopped early \(stopped\)")
    terminal.expect(r"model [0-9a-f]{32}")
    terminal.expect(pexpect.EOF)
    terminal.close()
    assert terminal.exitstatus == 0
    assert client.job(job_id).record["stop_reason"] == "stopped"


def test_tables_card_and_text_curves_on_a_terminal(url, client):
    job = client.train(with_training(TUTORIAL_XOR_JOB, epochs=30), wait=True, timeout=60)
    terminal = spawn("jobs", url=url)
    terminal.expect(r"┏━+┳")  # a rich table, not tab-separated lines
    terminal.expect(r"┃.*id.*┃.*name")
    terminal.expect(r"succeeded")
    terminal.expect(pexpect.EOF)
    terminal.close()
    assert terminal.exitstatus == 0

    terminal = spawn("curves", job.id, url=url)
    terminal.expect(r"30 epochs")
    terminal.expect(r"loss [▁▂▃▄▅▆▇█]{30}  \d\.\d{4} → \d\.\d{4}")  # a sparkline per series
    terminal.expect(r"accuracy [▁▂▃▄▅▆▇█]{30}")
    terminal.expect(pexpect.EOF)

    terminal = spawn("model", job.model_id, url=url)
    card = terminal.read()  # everything, up to the end
    terminal.close()
    assert terminal.exitstatus == 0
    assert "Model card: xor" in card and "# Model card" not in card, "Markdown rendered, not raw"
