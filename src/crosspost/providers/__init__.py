"""Ports to outside intelligence (transcription, judge/LLM, image generation), each a small
protocol with one client per service, and each service with a strict fake in `crosspost.fakes`
that the client is tested against over real HTTP.

Providers sit beside `platforms` and `media` in the layers and import neither `platforms` nor
anything above; their errors are `ProviderError`s, classified like the platforms' so the job
runner can apply one retry policy to both.
"""

from crosspost.providers.errors import ProviderError
from crosspost.providers.transcription import OpenAITranscriber, Transcriber

__all__ = ["OpenAITranscriber", "ProviderError", "Transcriber"]
