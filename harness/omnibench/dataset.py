"""OmniBench samples from a local parquet file or folder (m-a-p/OmniBench's layout), or the hub.

Media stay bytes here (pyarrow, no decoding); Pillow and soundfile read them when the
request is built.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from importlib import resources

import pyarrow as pa
import pyarrow.parquet as pq

HUB_DATASET = "m-a-p/OmniBench"
BUNDLED_SAMPLE = "omnibench_sample.parquet"
HUB_TIMEOUT_S = "10"  # seconds, for huggingface_hub's connection and download waits


class DatasetError(Exception):
    """The dataset cannot be read (bad path, bad layout, hub unreachable)."""


@dataclass(frozen=True)
class OmniSample:
    """One OmniBench question with its media bytes, as the dataset holds it."""

    index: int
    task_type: str
    audio_type: str
    question: str
    options: tuple[str, ...]
    answer: str  # the correct option's text
    image_bytes: bytes
    image_path: str
    audio_bytes: bytes
    audio_path: str
    image_content: str  # text stand-ins for --no-use-image / --no-use-audio
    audio_content: str


def bundled_sample_path() -> str:
    return str(resources.files("harness.data").joinpath(BUNDLED_SAMPLE))


def load_samples(source: str | None, limit: int | None = None, local_only: bool = False) -> list[OmniSample]:
    """Samples from a parquet file, a folder of them, or a hub id (None: the bundled sample set).

    `local_only`: a hub id is a DatasetError instead of a download (the viewer never reaches out).
    """
    path = source or bundled_sample_path()
    if os.path.isdir(path):
        files = sorted(glob.glob(os.path.join(path, "**", "*.parquet"), recursive=True))
        train = [f for f in files if "train" in os.path.basename(f)]
        files = train or files
    elif os.path.isfile(path):
        files = [path]
    elif "/" in path and not path.startswith((".", "/")):
        if local_only:
            raise DatasetError(f"{path!r} is a hub id; only local datasets are read here")
        files = _from_hub(path)
    else:
        raise DatasetError(f"{path!r} is neither a parquet file, a folder of them, nor a hub id")
    if not files:
        raise DatasetError(f"no parquet files under {path!r}")
    samples: list[OmniSample] = []
    for file in files:
        try:
            rows = pq.read_table(file).to_pylist()
        except (pa.ArrowException, OSError) as exc:
            raise DatasetError(f"{file}: not a readable parquet file ({type(exc).__name__})") from None
        for row in rows:
            try:
                samples.append(_sample(row))
            except (KeyError, TypeError, ValueError) as exc:
                raise DatasetError(f"{file}: not OmniBench's layout ({type(exc).__name__}: {exc})") from None
            if limit is not None and len(samples) >= limit:
                return samples
    if not samples:
        raise DatasetError(f"{path!r} holds no samples")
    return samples


def _sample(row: dict) -> OmniSample:
    if row["answer"] not in row["options"]:
        raise ValueError(f"sample {row['index']}: its answer {row['answer']!r} is not one of its options")
    return OmniSample(
        index=int(row["index"]),
        task_type=row["task type"],
        audio_type=row["audio type"],
        question=row["question"],
        options=tuple(row["options"]),
        answer=row["answer"],
        image_bytes=row["image"]["bytes"],
        image_path=row["image"].get("path") or "",
        audio_bytes=row["audio"]["bytes"],
        audio_path=row["audio"].get("path") or "",
        image_content=row.get("image content") or "",
        audio_content=row.get("audio content") or "",
    )


def _from_hub(repo_id: str) -> list[str]:
    os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", HUB_TIMEOUT_S)
    os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", HUB_TIMEOUT_S)
    try:
        from huggingface_hub import snapshot_download

        folder = snapshot_download(repo_id, repo_type="dataset", allow_patterns=["*.parquet"])
    except Exception as exc:  # offline, unknown repo, gated: all mean "cannot read it"
        raise DatasetError(
            f"cannot fetch {repo_id} from the Hugging Face hub ({type(exc).__name__}); "
            "download it and pass the local folder"
        ) from None
    return sorted(glob.glob(os.path.join(folder, "**", "*.parquet"), recursive=True))
