"""Explaining text CNNs: Text Deconvolution Saliency against z-scores (Ducoffe 2018, part III).

Pipeline: :func:`tokenize` (punctuation kept) -> :class:`Vocab` -> :func:`make_windows`
(50-word windows, padded with :data:`PAD`) -> optional skip-gram embeddings
(:func:`train_skipgram`) -> :class:`wassml.nn.TextCNN` (:func:`train_text_cnn`) ->
:func:`text_cnn_saliency` (one jitted call per batch) compared with the z-score baseline
(:class:`ZScoreClassifier`, :func:`word_zscores`) and rendered by :func:`render_html` /
:func:`render_png`. Data: :func:`load_corpus` (``'fortunes'`` offline, ``'imdb_reviews'`` TFDS,
``'planted'`` synthetic). See ``docs/text.md``.
"""

from wassml.text.classifier import batched_apply, predict_logits, train_text_cnn
from wassml.text.corpus import (CORPORA, DEFAULT_CATEGORIES, FORTUNES_INSTALL, fortune_categories,
                                fortunes, load_corpus, read_fortunes)
from wassml.text.planted import PlantedCorpus, planted_corpus
from wassml.text.render import SaliencyExample, render_html, render_png
from wassml.text.saliency import (deconv_projection, deconv_saliency, make_saliency_fn, pearson,
                                  precision_at_k, text_cnn_saliency)
from wassml.text.skipgram import SkipGram, sgns_loss, skipgram_pairs, train_skipgram
from wassml.text.tokenizer import PAD, UNK, detokenize, tokenize
from wassml.text.vocab import PAD_ID, UNK_ID, Vocab
from wassml.text.windows import Windows, make_windows, split_windows
from wassml.text.zscore import (ZScoreClassifier, class_word_counts, word_zscores, zscore_logits,
                                zscores)

__all__ = [
    "CORPORA", "DEFAULT_CATEGORIES", "FORTUNES_INSTALL", "PAD", "PAD_ID", "PlantedCorpus",
    "SaliencyExample", "SkipGram", "UNK", "UNK_ID", "Vocab", "Windows", "ZScoreClassifier",
    "batched_apply", "class_word_counts", "deconv_projection", "deconv_saliency", "detokenize",
    "fortune_categories", "fortunes", "load_corpus", "make_saliency_fn", "make_windows",
    "pearson", "planted_corpus", "precision_at_k", "predict_logits", "read_fortunes",
    "render_html", "render_png", "sgns_loss", "skipgram_pairs", "split_windows",
    "text_cnn_saliency", "tokenize", "train_skipgram", "train_text_cnn", "word_zscores",
    "zscore_logits", "zscores",
]
