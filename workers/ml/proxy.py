"""Proxy masks: the classifier's patch predictions turned into pixel masks for heterogeneous frames.

The patch grid (14x14 for a 224-pixel ViT with 16-pixel patches) is upsampled bilinearly to
the frame and, by default, refined with a guided filter (He et al., 2010) that uses the frame's
luminance as guide, so mask edges snap to image edges. Pixels whose refined probability is
close to 0.5 are marked unsure and ignored by the segmenter's loss.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

Refinement = Literal["bilinear", "guided"]
UNSURE = 128  # on-disk value of an ignored pixel in a proxy mask PNG


def guided_filter(guide: np.ndarray, source: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Edge-preserving smoothing of ``source`` steered by ``guide`` (both float32 HxW in [0, 1])."""
    size = (2 * radius + 1, 2 * radius + 1)

    def box(x: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(x, -1, size, borderType=cv2.BORDER_REFLECT)

    mean_i, mean_p = box(guide), box(source)
    cov_ip = box(guide * source) - mean_i * mean_p
    var_i = box(guide * guide) - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return np.asarray(box(a) * guide + box(b), dtype=np.float32)


def proxy_probability(
    image: np.ndarray, patch_p: np.ndarray, refine: Refinement = "guided"
) -> np.ndarray:
    """(H, W) float32 P probability for ``image`` (HxWx3 uint8) from its (gh, gw) patch map."""
    h, w = image.shape[:2]
    prob = cv2.resize(patch_p.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    if refine == "guided":
        guide = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
        cell = max(h / patch_p.shape[0], w / patch_p.shape[1])
        prob = guided_filter(guide, prob, radius=max(2, int(cell)), eps=1e-3)
    return np.clip(prob, 0.0, 1.0)


def proxy_labels(prob: np.ndarray, margin: float = 0.15) -> np.ndarray:
    """uint8 mask: 255 = P, 0 = NP, UNSURE where |prob - 0.5| < margin."""
    labels = np.where(prob >= 0.5, 255, 0).astype(np.uint8)
    labels[np.abs(prob - 0.5) < margin] = UNSURE
    return labels
