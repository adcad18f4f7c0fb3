"""CI config (<= 75 s on 2 cores): scikit-learn digits on the 8x8 grid, targets by wassml.ot.emd.

  python -m experiments.dwe.main --config=experiments/dwe/configs/quick.py --workdir=runs/dwe_quick
"""

from experiments.dwe.configs import base


def get_config():
  c = base.get_config()
  c.dataset = "digits"
  c.class_names = [str(i) for i in range(10)]
  c.num_train_images = 1437
  c.num_test_images = 360
  c.num_train_pairs = 500  # wassml.ot.emd (host LP) takes ~40 ms per 8x8 pair on this CPU
  c.num_test_pairs = 150
  c.progress = False
  c.pairs.batch_size = 50
  c.pairs.chunk_size = 250
  c.pairs.parity_pairs = 0  # parity with POT is covered by tests/test_embedding_pairs.py
  c.train.max_epochs = 60  # 240 steps; a step budget, not a time cap, so CI is deterministic
  c.train.patience = 10
  c.throughput.lp_pairs = 100
  c.throughput.wassml_pairs = 20
  c.throughput.independent_pairs = 2000
  c.throughput.pairwise_set_size = 180
  c.barycenter_per_class = 100
  c.pga_class = 0
  c.interpolation.entropic_epsilon = 0.5
  c.interpolation.entropic_iters = 100
  c.neighbours.num_queries = 0
  c.cross_dataset.enabled = False
  return c
