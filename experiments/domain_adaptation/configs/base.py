"""Settings shared by every domain-adaptation config (the JUMBOT digits reference values)."""

import ml_collections


def base_config() -> ml_collections.ConfigDict:
  """Reference settings: batch 50 per class, Adam 2e-4, eta1 = eta2 = 0.1, tau 1, eps 0.1."""
  c = ml_collections.ConfigDict()
  c.name = "base"
  c.seed = 0
  c.seeds = [0]
  c.pairs = ["moons_rot30"]
  c.pair_kwargs = ml_collections.ConfigDict()   # extra domain_pair(...) kwargs
  c.pair_overrides = ml_collections.ConfigDict()  # {pair: {field: value}}: per-pair settings
  c.methods = ["source_only", "dann", "deepjdot", "entropic_deepjdot", "jumbot"]
  # Data.
  c.max_train = None           # rows per domain from the train split (None: all)
  c.max_test = None            # rows per domain from the test split
  c.source_val_fraction = 0.1  # held-out labelled source rows for model selection
  c.max_eval = 2000            # target-train rows used by the reverse-validation score
  # Model.
  c.model = "digits_cnn"
  c.hidden = (64, 64)          # MLP widths
  c.cnn_widths = (32, 64, 128)  # DigitsCNN conv blocks (reference)
  c.feature_dim = 128
  c.dann_hidden = 256
  # Optimisation (reference: Adam 2e-4, 50 per class, 10 source-only epochs, then 100 epochs).
  c.learning_rate = 2e-4
  c.per_class = 50
  c.target_batch = 0           # 0: same size as the source batch
  c.pretrain_steps = 1000
  c.steps = 10000
  c.eval_every = 1000
  # wassml.train.train_loop: how the seeds of a pair train ('auto': one after another on CPU,
  # scanned and vmapped on an accelerator) and how often a run checkpoints (None: at every
  # evaluation; 0: at its end only).
  c.execution = "auto"
  c.checkpoint_every = ml_collections.config_dict.placeholder(int)
  # Joint OT (JUMBOT digits: eta1 = eta2 = 0.1, eta3 = 1, tau = rho = 1, eps = 0.1).
  c.eta1 = 0.1
  c.eta2 = 0.1
  c.eta3 = 1.0
  c.epsilon = 0.1
  c.rho = 1.0
  c.convention = "entropy"     # JUMBOT's unbalanced entropy reference (POT reg_type)
  c.num_iters = ml_collections.config_dict.placeholder(int)   # solver default when None
  c.dann_weight = 1.0
  # wassml.ot.emd method of DeepJDOT: 'auto' = JAX auction on accelerators, scipy on the host
  # on a CPU backend; 'auction' = always on device; 'host' = always scipy (the auction is ~100x
  # slower than scipy on the shared 2-core CPU).
  c.exact_method = "auto"
  # Model selection without target labels: 'source_val' or 'reverse_val'.
  c.selection = "source_val"
  # Plots.
  c.embedding_plot = "pca"     # or 'tsne'
  c.plot_points = 500
  c.plot_all_plans = True      # plan plot also on full (non-partial) pairs
  c.progress = True
  return c
