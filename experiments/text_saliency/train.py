"""Text Deconvolution Saliency against z-scores (Ducoffe 2018, part III, ch. 12).

For each seed: tokenise the corpus (punctuation kept), cut 50-word windows, train skip-gram
embeddings (wassml's own), train the thesis's TextCNN from them (the seeds' CNNs together,
through ``wassml.train.train_loop``; checkpoints under ``<workdir>/checkpoints``, so a killed run
resumes), and compare on held-out windows with the z-score classifier (sum of word z-scores).
Then compute the Text Deconvolution Saliency of every test window in one jitted call per batch, correlate it with the words' z-scores
(Pearson, per window), pick windows the CNN gets right and the z-score wrong (co-occurrences the
z-score misses), and render saliency pages (HTML + PNG). A planted-n-gram task checks that the
saliency finds the words that decide the class (precision@k).

Writes ``<workdir>/results.json`` (``cnn_accuracy``, ``zscore_accuracy``, ``mean_correlation``,
...), ``accuracy.png``, ``correlation.png``, ``training.png``, ``saliency.html`` and
``example_*.png``.
"""

from __future__ import annotations

import json
import pathlib
import platform
import time
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from wassml.nn import TextCNN
from wassml.train import unstack_states
from wassml.text import (PAD, SaliencyExample, Vocab, ZScoreClassifier, batched_apply,
                         load_corpus, make_windows, pearson, planted_corpus, precision_at_k,
                         render_html, render_png, text_cnn_saliency, tokenize, train_skipgram,
                         train_text_cnn, word_zscores)

THESIS = {"cnn_accuracy": (0.91, 0.97), "zscore_accuracy": (0.84, 0.90),
          "best_example_correlation": 0.38}


def _load(config, split: str):
  kwargs = dict(config.data_kwargs) if config.get("data_kwargs") else {}
  ds = load_corpus(config.dataset, split, **kwargs)
  cap = config.max_train_texts if split == "train" else config.max_test_texts
  if cap is not None and cap > 0 and len(ds) > cap:
    idx = np.sort(np.random.default_rng(12345).permutation(len(ds))[:cap])
    ds = ds.take(idx)
  return ds


def _tokenised(ds):
  """Tokenises every text; empty texts are dropped (and counted)."""
  toks, labels, dropped = [], [], 0
  for text, y in zip(ds.x, ds.y):
    t = tokenize(text)
    if t:
      toks.append(t)
      labels.append(int(y))
    else:
      dropped += 1
  return toks, np.asarray(labels, np.int32), dropped


def prepare(config: ml_collections.ConfigDict) -> dict[str, Any]:
  """Loads, tokenises and windows the corpus; builds the vocabulary on the training split."""
  train_ds, test_ds = _load(config, "train"), _load(config, "test")
  if train_ds.num_classes != test_ds.num_classes:
    raise ValueError("train and test splits disagree on the number of classes")
  k = train_ds.num_classes
  tr_tok, tr_y, tr_drop = _tokenised(train_ds)
  te_tok, te_y, te_drop = _tokenised(test_ds)
  for name, y in (("train", tr_y), ("test", te_y)):
    missing = np.flatnonzero(np.bincount(y, minlength=k) == 0)
    if missing.size:
      raise ValueError(f"class(es) {missing.tolist()} have no (non-empty) {name} texts")
  vocab = Vocab.build(tr_tok, min_count=config.min_count, max_size=config.max_vocab)
  kw = dict(stride=config.get("stride") or None, min_tokens=config.min_tokens)
  wtr = make_windows([vocab.encode(t) for t in tr_tok], tr_y, config.window, **kw)
  wte = make_windows([vocab.encode(t) for t in te_tok], te_y, config.window, **kw)
  class_names = list(config.get("class_names") or []) or [str(i) for i in range(k)]
  if config.dataset == "fortunes" and config.get("data_kwargs") and "categories" in \
      config.data_kwargs:
    class_names = list(config.data_kwargs.categories)
  return {"vocab": vocab, "train": wtr, "test": wte, "num_classes": k,
          "class_names": class_names, "train_tokens": tr_tok,
          "stats": {"train_texts": len(tr_tok), "test_texts": len(te_tok),
                    "empty_texts_dropped": tr_drop + te_drop, "train_windows": len(wtr),
                    "test_windows": len(wte), "vocab_size": len(vocab),
                    "train_tokens": int(wtr.mask.sum()), "test_tokens": int(wte.mask.sum()),
                    "test_unk_rate": float(np.mean(wte.ids[wte.mask] == 1))}}


def _model(config, vocab_size: int, num_classes: int):
  """The thesis's TextCNN (:class:`wassml.nn.TextCNN`)."""
  return TextCNN(vocab_size=vocab_size, num_classes=num_classes, embed_dim=config.embed_dim,
                 num_filters=config.num_filters, kernel_width=config.kernel_width,
                 hidden=config.hidden, dropout_rate=config.dropout_rate)


def run_seeds(config, data, seeds, workdir=None) -> list[dict[str, Any]]:
  """Skip-gram + TextCNN for every seed; returns each seed's accuracy, saliency and timings.

  The skip-gram embeddings are trained seed after seed; the TextCNNs of all seeds then train
  together (one :func:`wassml.train.train_loop` over the stacked seeds, ``config.execution``),
  checkpointing every epoch under ``<workdir>/checkpoints/text_cnn`` (a killed run resumes
  there). ``time_cnn_s`` is each seed's share of that joint training.
  """
  vocab, wtr, wte = data["vocab"], data["train"], data["test"]
  embs, sg_losses, t_sg, cnn_keys = [], [], [], []
  for seed in seeds:
    k_sg, k_cnn = jax.random.split(jax.random.key(seed))
    cnn_keys.append(k_cnn)
    t0 = time.time()
    emb, sg_info = None, {"loss": []}
    if config.skipgram_steps > 0:
      emb, sg_info = train_skipgram(
          k_sg, [vocab.encode(t) for t in data["train_tokens"]], len(vocab),
          dim=config.embed_dim, window=config.skipgram_window,
          num_negatives=config.skipgram_negatives, batch_size=config.skipgram_batch_size,
          num_steps=config.skipgram_steps, learning_rate=config.skipgram_learning_rate,
          progress=config.progress)
    embs.append(emb)
    sg_losses.append(list(map(float, sg_info["loss"])))
    t_sg.append(time.time() - t0)
  model = _model(config, len(vocab), data["num_classes"])
  t0 = time.time()
  state, hists = train_text_cnn(
      jnp.stack(cnn_keys), model, wtr.ids, wtr.labels, num_epochs=config.num_epochs,
      batch_size=config.batch_size, learning_rate=config.learning_rate,
      embeddings=None if embs[0] is None else np.stack(embs),
      execution=config.get("execution", "auto"), workdir=workdir, name="text_cnn")
  t_cnn = (time.time() - t0) / len(seeds)
  saliency = text_cnn_saliency(model)
  runs = []
  for seed, st, hist, sg_loss, t in zip(seeds, unstack_states(state, len(seeds)), hists,
                                        sg_losses, t_sg):
    t1 = time.time()
    sal, logits = batched_apply(saliency, {"params": st.params}, wte.ids,
                                batch_size=config.eval_batch_size)
    t_sal = time.time() - t1
    pred = logits.argmax(-1)
    runs.append({"seed": seed, "cnn_accuracy": float(np.mean(pred == wte.labels)),
                 "pred": pred, "saliency": sal, "history": hist, "skipgram_loss": sg_loss,
                 "time_skipgram_s": t, "time_cnn_s": t_cnn, "time_saliency_s": t_sal})
  return runs


def _top_span(sal_row, mask_row, width: int) -> int:
  """Start of the ``width``-word span of largest summed |saliency| (a conv receptive field)."""
  a = np.where(mask_row, np.abs(sal_row), 0.0)
  sums = np.convolve(a, np.ones(width), mode="valid")
  return int(np.argmax(sums))


def cooccurrence_examples(data, z, sal, cnn_pred, z_pred, *, width: int, limit: int):
  """Test windows the CNN gets right and the z-score wrong, with their most salient span.

  The span's words are listed with their z-scores for the true class: small individual
  z-scores on a span the CNN relies on point to a co-occurrence (order, phrase) pattern.
  """
  vocab, wte = data["vocab"], data["test"]
  y = wte.labels
  idx = np.flatnonzero((cnn_pred == y) & (z_pred != y))
  out = []
  for i in idx:
    s = _top_span(sal[i], wte.mask[i], width)
    words = vocab.decode(wte.ids[i, s:s + width])
    zs = [float(z[y[i], t]) for t in wte.ids[i, s:s + width]]
    out.append({"window": int(i), "text_index": int(wte.text_index[i]),
                "label": data["class_names"][y[i]],
                "zscore_prediction": data["class_names"][z_pred[i]],
                "span": " ".join(words), "span_zscores_true_class": [round(v, 2) for v in zs],
                "span_max_abs_zscore": round(float(np.max(np.abs(zs))), 2),
                "span_saliency_share": float(
                    np.abs(sal[i, s:s + width]).sum() /
                    max(np.abs(np.where(wte.mask[i], sal[i], 0)).sum(), 1e-12))})
  # Spans whose words are the least specific on their own come first.
  out.sort(key=lambda r: (r["span_max_abs_zscore"], -r["span_saliency_share"]))
  return out[:limit], int(idx.size)


def planted_check(config, seed: int, workdir=None) -> dict[str, Any]:
  """Order-only planted n-grams: CNN vs z-score accuracy and saliency precision@k (the CNN
  checkpoints under ``<workdir>/checkpoints/planted_cnn``)."""
  p = config.planted
  kw = dict(num_classes=p.num_classes, length=p.length, vocab_size=p.vocab_size, ngram=p.ngram,
            kind="order", seed=seed)
  tr = planted_corpus("train", num_texts=p.num_train, **kw)
  te = planted_corpus("test", num_texts=p.num_test, **kw)
  vocab = Vocab.build(tokenize(t) for t in tr.dataset.x)
  wtr = make_windows([vocab.encode(tokenize(t)) for t in tr.dataset.x], tr.dataset.y, p.length)
  wte = make_windows([vocab.encode(tokenize(t)) for t in te.dataset.x], te.dataset.y, p.length)
  model = TextCNN(vocab_size=len(vocab), num_classes=p.num_classes, embed_dim=p.embed_dim,
                  num_filters=p.num_filters, hidden=p.hidden)
  state, _ = train_text_cnn(jax.random.key(seed), model, wtr.ids, wtr.labels,
                            num_epochs=p.num_epochs, batch_size=32, learning_rate=3e-3,
                            execution=config.get("execution", "auto"), workdir=workdir,
                            name="planted_cnn")
  sal, logits = batched_apply(text_cnn_saliency(model), {"params": state.params}, wte.ids,
                              batch_size=p.num_test)
  zc = ZScoreClassifier(p.num_classes, len(vocab)).fit(wtr.ids, wtr.mask, wtr.labels)
  rel = np.stack(te.planted)
  return {
      "cnn_accuracy": float(np.mean(logits.argmax(-1) == wte.labels)),
      "zscore_accuracy": float(np.mean(np.asarray(zc.predict(wte.ids, wte.mask)) == wte.labels)),
      "precision_at_1_abs": float(np.mean(precision_at_k(np.abs(sal), rel, wte.mask, k=1))),
      "precision_at_k_abs": float(np.mean(precision_at_k(np.abs(sal), rel, wte.mask))),
      "precision_at_k_signed": float(np.mean(precision_at_k(sal, rel, wte.mask))),
      "chance_precision": float(rel.sum(1).mean() / p.length),
      "k": int(p.ngram), "ngrams": [" ".join(g) for g in te.ngrams],
  }


def _stat(fn, values) -> float | None:
  """``fn`` over the finite values; ``None`` (not NaN) when there is none, e.g. every window is
  constant or shorter than ``min_tokens_for_correlation``."""
  v = np.asarray(values, np.float64)
  v = v[np.isfinite(v)]
  return float(fn(v)) if v.size else None


def _plots(workdir: pathlib.Path, runs, z_acc, corr, class_names):
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

  accs = [r["cnn_accuracy"] for r in runs]
  fig, ax = plt.subplots(figsize=(5.5, 4))
  ax.bar([0, 1], [np.mean(accs), z_acc], yerr=[np.std(accs), 0], color=["C0", "C1"],
         capsize=6)
  ax.scatter(np.zeros(len(accs)), accs, color="k", s=12, zorder=3, label="CNN seeds")
  ax.axhspan(*THESIS["cnn_accuracy"], color="C0", alpha=0.12, label="thesis CNN 91-97%")
  ax.axhspan(*THESIS["zscore_accuracy"], color="C1", alpha=0.12, label="thesis z-score 84-90%")
  ax.axhline(1 / len(class_names), color="grey", ls=":", label="chance")
  ax.set_xticks([0, 1], ["TextCNN", "z-score"])
  ax.set_ylim(0, 1)
  ax.set_ylabel("test window accuracy")
  ax.legend(fontsize=7, loc="lower right")
  fig.tight_layout()
  fig.savefig(workdir / "accuracy.png", dpi=110)
  plt.close(fig)

  fig, ax = plt.subplots(figsize=(5.5, 4))
  finite = corr[np.isfinite(corr)]
  ax.hist(finite, bins=30, color="C2")
  if finite.size:
    ax.axvline(finite.mean(), color="k", label=f"mean {finite.mean():.3f}")
  ax.axvline(THESIS["best_example_correlation"], color="r", ls="--",
             label="thesis: 0.38 on its most correlated example")
  ax.set_xlabel("Pearson(saliency, z-score) per test window")
  ax.set_ylabel("windows")
  ax.legend(fontsize=7)
  fig.tight_layout()
  fig.savefig(workdir / "correlation.png", dpi=110)
  plt.close(fig)

  fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
  for r in runs:
    axes[0].plot(r["history"]["loss"], label=f"seed {r['seed']}")
    axes[1].plot(r["history"]["accuracy"], label=f"seed {r['seed']}")
  axes[0].set_title("TextCNN train loss")
  axes[1].set_title("TextCNN train accuracy")
  for a in axes:
    a.set_xlabel("epoch")
    a.legend(fontsize=7)
  fig.tight_layout()
  fig.savefig(workdir / "training.png", dpi=110)
  plt.close(fig)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Runs the experiment; writes results.json, plots and saliency pages into ``workdir``."""
  start = time.time()
  workdir = pathlib.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  data = prepare(config)
  vocab, wtr, wte = data["vocab"], data["train"], data["test"]
  k = data["num_classes"]

  zclf = ZScoreClassifier(k, len(vocab)).fit(wtr.ids, wtr.mask, wtr.labels)
  z = np.asarray(zclf.z)
  z_pred = np.asarray(zclf.predict(wte.ids, wte.mask))
  z_acc = float(np.mean(z_pred == wte.labels))

  runs = run_seeds(config, data, [int(s) for s in config.seeds], workdir)
  best = runs[0]  # saliency, examples and correlations are reported for the first seed
  sal, cnn_pred = best["saliency"], best["pred"]
  wz = np.asarray(word_zscores(wte.ids, wte.mask, z, cnn_pred))
  ok = wte.mask.sum(1) >= config.min_tokens_for_correlation
  corr = np.asarray(pearson(sal, wz, wte.mask))[ok]
  # The sign of a word's TDS depends on the arbitrary sign of sum_e W[j, e, f]; the activation
  # strength |s| against the z-score is reported too.
  corr_abs = np.asarray(pearson(np.abs(sal), wz, wte.mask))[ok]
  corr_all_seeds = []
  for r in runs:
    wz_r = np.asarray(word_zscores(wte.ids, wte.mask, z, r["pred"]))
    c = np.asarray(pearson(r["saliency"], wz_r, wte.mask))[ok]
    corr_all_seeds.append(_stat(np.mean, c))

  examples, n_cnn_only = cooccurrence_examples(data, z, sal, cnn_pred, z_pred,
                                               width=config.kernel_width,
                                               limit=config.num_examples)
  # Render: the co-occurrence examples, then the most and least correlated windows.
  valid = np.flatnonzero(ok)
  corr_full = np.full(len(wte), np.nan)
  corr_full[valid] = corr
  finite = valid[np.isfinite(corr_full[valid])]
  order = finite[np.argsort(-corr_full[finite])]
  shown = [e["window"] for e in examples[:config.num_rendered]]
  shown += [int(i) for i in order[:2] if int(i) not in shown]
  shown += [int(i) for i in order[-1:] if int(i) not in shown]
  if not shown:  # e.g. tiny or degenerate data: show the first test window anyway
    shown = [0]
  names = data["class_names"]
  pages = []
  for j, i in enumerate(shown):
    toks = vocab.decode(wte.ids[i])
    toks = [t if m else PAD for t, m in zip(toks, wte.mask[i])]
    kind = ("CNN right, z-score wrong" if cnn_pred[i] == wte.labels[i] != z_pred[i]
            else "correlation example")
    ex = SaliencyExample(
        toks, np.where(wte.mask[i], sal[i], 0.0), wz[i],
        title=(f"[{kind}] window {i}: true={names[wte.labels[i]]}, "
               f"CNN={names[cnn_pred[i]]}, z-score={names[z_pred[i]]}"),
        note=(f"Pearson(saliency, z-score of the CNN's class) = {corr_full[i]:.3f}; "
              f"z-scores shown for class '{names[cnn_pred[i]]}'"))
    pages.append(ex)
    render_png(ex, workdir / f"example_{j}.png")
  render_html(pages, workdir / "saliency.html",
              title=f"Text Deconvolution Saliency vs z-score ({config.dataset})")

  planted = (planted_check(config, int(config.seeds[0]), workdir) if config.planted.enabled
             else None)
  _plots(workdir, runs, z_acc, corr, names)

  accs = [r["cnn_accuracy"] for r in runs]
  results = {
      "cnn_accuracy": float(np.mean(accs)),
      "cnn_accuracy_std": float(np.std(accs)),
      "cnn_accuracy_per_seed": accs,
      "zscore_accuracy": z_acc,
      "mean_correlation": _stat(np.mean, corr),
      "median_correlation": _stat(np.median, corr),
      "max_correlation": _stat(np.max, corr),
      "mean_correlation_per_seed": corr_all_seeds,
      "mean_correlation_abs_saliency": _stat(np.mean, corr_abs),
      "max_correlation_abs_saliency": _stat(np.max, corr_abs),
      "correlated_windows": int(np.isfinite(corr).sum()),
      "cnn_right_zscore_wrong": n_cnn_only,
      "zscore_right_cnn_wrong": int(np.sum((z_pred == wte.labels) & (cnn_pred != wte.labels))),
      "cooccurrence_examples": examples,
      "planted": planted,
      "thesis": THESIS,
      "class_names": names,
      "data": data["stats"],
      "timing_s": {"skipgram": [r["time_skipgram_s"] for r in runs],
                   "cnn": [r["time_cnn_s"] for r in runs],
                   "saliency_all_test_windows": [r["time_saliency_s"] for r in runs],
                   "total": time.time() - start},
      "final_train_accuracy": [r["history"]["accuracy"][-1] for r in runs],
      # The TextCNN's first step (0 unless it resumed from a checkpoint in workdir).
      "resumed_from_step": runs[0]["history"]["start_step"],
      "skipgram_final_loss": [r["skipgram_loss"][-1] if r["skipgram_loss"] else None
                              for r in runs],
      "config": config.to_dict(),
      "machine": {"platform": platform.platform(), "processor": platform.processor(),
                  "jax": jax.__version__, "devices": [str(d) for d in jax.devices()]},
      "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
  }
  (workdir / "results.json").write_text(json.dumps(results, indent=2, default=str))
  return results
