"""The validation that cannot be fooled: a tiny TextCNN trained on texts with planted,
order-only n-grams must classify them (the z-score cannot: same word frequencies in every class)
and its deconvolution saliency must put the planted words on top (precision@k vs chance)."""

import jax
import numpy as np

from wassml.nn import TextCNN
from wassml.text import (Vocab, ZScoreClassifier, batched_apply, make_windows, planted_corpus,
                         precision_at_k, text_cnn_saliency, tokenize, train_text_cnn)


def _windows(pc, vocab, length):
  return make_windows([vocab.encode(tokenize(t)) for t in pc.dataset.x], pc.dataset.y, length)


def test_saliency_ranks_planted_order_ngrams_on_top():
  length = 30
  kw = dict(num_classes=2, length=length, vocab_size=100, ngram=3, kind="order", seed=0)
  train = planted_corpus("train", num_texts=400, **kw)
  test = planted_corpus("test", num_texts=200, **kw)
  vocab = Vocab.build(tokenize(t) for t in train.dataset.x)
  wtr, wte = _windows(train, vocab, length), _windows(test, vocab, length)
  model = TextCNN(vocab_size=len(vocab), num_classes=2, embed_dim=16, num_filters=32, hidden=16)
  state, hist = train_text_cnn(jax.random.key(0), model, wtr.ids, wtr.labels, num_epochs=15,
                               batch_size=32, learning_rate=3e-3, progress=False)
  assert hist["loss"][-1] < hist["loss"][0]
  sal, logits = batched_apply(text_cnn_saliency(model), {"params": state.params}, wte.ids,
                              batch_size=200)
  cnn_acc = np.mean(logits.argmax(-1) == wte.labels)
  zclf = ZScoreClassifier(2, len(vocab)).fit(wtr.ids, wtr.mask, wtr.labels)
  z_acc = np.mean(np.asarray(zclf.predict(wte.ids, wte.mask)) == wte.labels)
  assert cnn_acc >= 0.95, cnn_acc
  assert z_acc <= 0.65, z_acc  # word frequencies carry no class information here
  rel = np.stack(test.planted)
  chance = rel.sum(1).mean() / length  # 0.1
  top1 = float(np.mean(precision_at_k(np.abs(sal), rel, wte.mask, k=1)))
  topk = float(np.mean(precision_at_k(np.abs(sal), rel, wte.mask)))
  print(f"cnn={cnn_acc:.3f} z={z_acc:.3f} p@1={top1:.3f} p@k={topk:.3f} chance={chance:.3f}")
  assert top1 >= 0.8, top1
  assert topk >= 0.45, topk  # >= 4.5x chance; the CNN needs 2 of the 3 words (p@k <= ~2/3)


def test_train_text_cnn_bad_input():
  import pytest  # pylint: disable=g-import-not-at-top
  model = TextCNN(vocab_size=10, num_classes=3, embed_dim=4, num_filters=4, hidden=4)
  ids = np.ones((4, 6), np.int32)
  with pytest.raises(ValueError, match=r"class\(es\) \[2\] have no training examples"):
    train_text_cnn(jax.random.key(0), model, ids, np.array([0, 1, 0, 1]), progress=False)
  with pytest.raises(ValueError, match="expected ids"):
    train_text_cnn(jax.random.key(0), model, ids[0], np.array([0]), progress=False)
