"""Every container image the module itself runs, pinned by digest, in one place.

Services bring their own images through their Dockerfile and pipelines.toml
(where the config loader refuses an image without a digest). To bump one:
`docker buildx imagetools inspect <image>:<tag>` prints the index digest;
replace the digest here and say why in the commit message.
"""

from __future__ import annotations

from typing import Final

IMAGES: Final[dict[str, str]] = {}
