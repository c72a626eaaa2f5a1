"""OmniBench requests as EvalScope builds them: its prompt, option letters and media order."""

from __future__ import annotations

import base64
import io
import os
from typing import Any

from harness.mediafiles import image_mime_type
from harness.omnibench.dataset import OmniSample

# EvalScope's omni_bench prompt template (benchmarks/omnibench), word for word.
MULT_CHOICE_PROMPT = (
    "Answer the following multiple choice question based on the image and audio content. The last line of "
    "your response should be of the following format: 'ANSWER: [LETTER]' (without quotes) where [LETTER] is "
    "one of {letters}. Think step by step before answering.\n\n{question}\n\n{choices}"
)
AUDIO_FORMATS = ("mp3", "wav", "flac", "ogg")


def letter(index: int) -> str:
    return chr(ord("A") + index)


def prompt_text(sample: OmniSample) -> str:
    choices = "\n".join(f"{letter(i)}) {option}" for i, option in enumerate(sample.options))
    letters = ",".join(letter(i) for i in range(len(sample.options)))
    return MULT_CHOICE_PROMPT.format(letters=letters, question=sample.question, choices=choices)


def target_letter(sample: OmniSample) -> str:
    return letter(sample.options.index(sample.answer))


def build_messages(sample: OmniSample, use_image: bool, use_audio: bool) -> list[dict[str, Any]]:
    """One user turn: the prompt, then the image (or its description), then the audio (or its)."""
    content: list[dict[str, Any]] = [{"type": "text", "text": prompt_text(sample)}]
    if use_image:
        url = f"data:{image_mime_type(sample.image_bytes)};base64,{base64.b64encode(sample.image_bytes).decode()}"
        content.append({"type": "image_url", "image_url": {"url": url}})
    else:
        content.append({"type": "text", "text": f"[Image Alternative Text]: {sample.image_content}"})
    if use_audio:
        content.append(
            {
                "type": "input_audio",
                "input_audio": {"data": base64.b64encode(sample.audio_bytes).decode(), "format": audio_format(sample)},
            }
        )
    else:
        content.append({"type": "text", "text": f"[Audio Alternative Text]: {sample.audio_content}"})
    return [{"role": "user", "content": content}]


def audio_format(sample: OmniSample) -> str:
    """The audio's real format: from its file name, else what soundfile finds in its bytes."""
    extension = os.path.splitext(sample.audio_path)[1].lstrip(".").lower()
    if extension in AUDIO_FORMATS:
        return extension
    import soundfile

    return soundfile.info(io.BytesIO(sample.audio_bytes)).format.lower()
