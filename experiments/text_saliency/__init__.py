"""Text Deconvolution Saliency against z-scores (Ducoffe 2018, part III)."""
