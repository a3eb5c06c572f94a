"""The command line: a full tiny run, and one clear line for each user error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import write_photos

from qagan_core import read_model_info
from qagan_core.cli import main

REPO = Path(__file__).resolve().parents[1]


def test_train_enhance_evaluate_degrade_info(folders, tmp_path: Path, capsys) -> None:
    low, high = folders
    model = tmp_path / "look.safetensors"
    args = ["train", "--low", str(low), "--high", str(high), "--out", str(model), "--steps", "1",
            "--batch-size", "1", "--load-size", "48", "--crop-size", "32", "--train-size", "32",
            "--encoder", "random", "--device", "cpu", "--lambda-idt", "0.5", "--history-size", "2",
            "--lambda-adv", "0.3", "--lambda-unet-mean", "2.5", "--head-weight-decay", "0.25",
            "--head-updates", "7"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "ran 1 step in " in err and "the model is the generators averaged over the last 1 step (" in err
    training = read_model_info(model)["training"]
    assert (training["lambda_idt"], training["history_size"], training["export"]) == (0.5, 2, "average")
    assert (training["lambda_adv"], training["lambda_unet_mean"]) == (0.3, 2.5)
    assert training["head_weight_decay"] == 0.25
    assert training["head_updates"] == 7
    assert model.exists() and (tmp_path / "look.state.safetensors").exists()
    assert main(args) == 2  # refuses to overwrite
    assert "exists" in capsys.readouterr().err

    assert main(["enhance", "--model", str(model), str(low), "--out", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in low.iterdir())
    assert main(["enhance", "--model", str(model), str(low), "--out", str(tmp_path / "fast"),
                 "--mode", "fast", "--working-size", "32", "--format", "png"]) == 0
    assert sorted(p.suffix for p in (tmp_path / "fast").iterdir()) == [".png"] * 3
    assert main(["enhance", "--model", str(model), str(low), "--out", str(tmp_path / "fast"),
                 "--skip-existing", "--format", "png"]) == 0
    assert "3 already existed" in capsys.readouterr().out

    refs = tmp_path / "refs"
    write_photos(refs, 3, seed=1, dark=False)  # same names and sizes as the low folder
    assert main(["evaluate", "--model", str(model), "--low", str(low), "--reference", str(refs)]) == 0
    out = capsys.readouterr().out
    assert "input    PSNR" in out and "enhanced PSNR" in out

    ref_image = next(low.iterdir())
    assert main(["degrade", "--model", str(model), "--reference", str(ref_image), str(high),
                 "--out", str(tmp_path / "deg")]) == 0
    assert len(list((tmp_path / "deg").iterdir())) == 3
    assert main(["info", str(model)]) == 0
    assert '"qagan-model"' in capsys.readouterr().out


@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda t: ["train", "--low", str(t / "nope"), "--high", str(t), "--out", str(t / "m.safetensors"),
                    "--encoder", "random"], "folder not found"),
        (lambda t: ["train", "--low", str(t / "empty"), "--high", str(t), "--out", str(t / "m.safetensors"),
                    "--encoder", "random"], "no images in folder"),
        (lambda t: ["enhance", "--model", str(t / "bad.safetensors"), str(t / "empty"), "--out", str(t)],
         "no images found"),
        (lambda t: ["info", str(t / "bad.safetensors")], "not a safetensors file"),
        (lambda t: ["enhance", "--model", str(t / "bad.safetensors"), str(t / "a" / "x.png"),
                    str(t / "b" / "x.png"), "--out", str(t / "out")], "would both be written to"),
        (lambda t: ["info", str(t / "absent.safetensors")], "not found"),
        (lambda t: ["info", str(t / "folder.safetensors")], "is a folder, not a model file"),
        (lambda t: ["enhance", "--model", "", str(t / "a" / "x.png"), "--out", str(t / "o")],
         "--model is empty"),
        (lambda t: ["enhance", "--model", str(t / "bad.safetensors"), str(t / "a" / "x.png"),
                    "--out", str(t / "bad.safetensors")], "--out must be a folder"),
        (lambda t: ["train", "--low", str(t / "a"), "--high", str(t / "b"), "--encoder", "random",
                    "--out", str(t / ("n" * 300 + ".safetensors"))], "File name too long"),
        (lambda t: ["train", "--low", str(t / "a"), "--high", str(t / "b"), "--encoder", "random",
                    "--out", str(t / "m.safetensors"), "--generic-defects", "0.5"],
         "head_generic_defects needs head_objective quantile_pairs"),
    ],
)
def test_user_errors_are_one_line(make_args, message: str, tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad.safetensors").write_text("not a model")
    (tmp_path / "folder.safetensors").mkdir()
    for sub in ("a", "b"):
        write_photos(tmp_path / sub, 2, seed=0, dark=False)
        (tmp_path / sub / "img_1.png").rename(tmp_path / sub / "x.png")
    assert main(make_args(tmp_path)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]


def test_wrong_kind_of_file_without_traceback(folders, tmp_path: Path) -> None:
    import torch
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(1)}, str(tmp_path / "lora.safetensors"))
    low, _ = folders
    proc = subprocess.run(
        [sys.executable, "-m", "qagan_core", "enhance", "--model", str(tmp_path / "lora.safetensors"),
         str(low), "--out", str(tmp_path / "o")],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'lora.safetensors'} is not a QAGAN model (it is a safetensors file without "
        "QAGAN metadata, e.g. another kind of model)"
    ]


def test_missing_encoder_weights_name_the_cli_options(folders, tmp_path: Path, capsys,
                                                      monkeypatch) -> None:
    from qagan_core import encoder as encoder_module

    monkeypatch.setattr(encoder_module, "_torchvision_state", lambda allow_download: None)
    low, high = folders
    assert main(["train", "--low", str(low), "--high", str(high), "--out",
                 str(tmp_path / "m.safetensors"), "--steps", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "weights not found" in err[0]
    assert "--encoder FILE" in err[0] and "--models-dir" in err[0] and "--encoder random" in err[0]
