"""Mid-size Fashion-MNIST run committed under experiments/dwe/results/fmnist_mid/.

Sized for a 2-core CPU shared with ~8 other jobs (load ~20), in about an hour. Targets come from POT's network simplex
(``pairs.solver='pot'``) because ``wassml.ot.emd``'s general-weights path (a HiGHS LP on the host)
took seconds per 28x28 pair here at the time (it is now column generation, see
``fmnist.py``); ``pairs.parity_pairs`` held-out pairs are solved by both and
compared in ``results.json``.

  python -m experiments.dwe.main --config=experiments/dwe/configs/fmnist_mid.py \\
      --workdir=runs/dwe_fmnist_mid
"""

from experiments.dwe.configs import base


def get_config():
  c = base.get_config()
  c.num_train_images = 60000
  c.num_test_images = 10000
  c.num_train_pairs = 4000  # 3200 train + 800 validation
  c.num_test_pairs = 2000
  c.pairs.solver = "pot"
  c.pairs.chunk_size = 1000
  c.pairs.parity_pairs = 2
  c.train.max_epochs = 60
  c.train.patience = 3
  c.train.max_seconds = 1650.0
  c.throughput.lp_pairs = 100
  c.throughput.wassml_pairs = 2
  c.throughput.independent_pairs = 5000
  c.throughput.pairwise_set_size = 1000
  c.barycenter_per_class = 1000
  c.neighbours.num_queries = 5
  c.neighbours.database_size = 60
  c.cross_dataset.enabled = True
  c.cross_dataset.num_train_images = 20000
  c.cross_dataset.num_test_images = 3000
  c.cross_dataset.num_train_pairs = 2000
  c.cross_dataset.num_test_pairs = 800
  c.cross_dataset.max_seconds = 840.0
  return c
