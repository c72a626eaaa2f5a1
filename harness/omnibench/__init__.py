"""The OmniBench accuracy pass: image + audio + text multiple choice, scored as EvalScope does."""
