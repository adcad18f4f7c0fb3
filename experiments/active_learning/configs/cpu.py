"""CPU-scale learning curves (Table 4.2 form) and transfer (Table 4.4 form) for the results/cpu run.

Fashion-MNIST, the whole 60k training split as the pool, the whole 10k test split, LeNet5 (Table A.2
WITHOUT its Dense10-ReLU layer, see below),
every strategy, 10 -> 1000 labels, 3 seeds, the thesis's optimiser (Adam 1e-3, batch 32), 30 epochs
per round clipped to [200, 2000] steps.

The model: Table A.2's LeNet5 ends Dense84-ReLU, Dense10-ReLU, Dropout .5, Dense10-softmax. With
this training budget its 10-unit ReLU layer often dies: on 160 / 320 random labels (200 / 300
steps, 4 seeds) it reached 0.46-0.54 / 0.46-0.57 test accuracy, against 0.67-0.72 / 0.71-0.76
without that layer (``lenet_bottleneck.py``, output in ``results/cpu/lenet_bottleneck.txt``), and a
first launch of this run with it gave non-monotone curves with dead seeds (0.10 at 320 labels). So
``lenet_dense = (84,)``: Dense84-ReLU, Dropout .5, softmax (features: the 84-d layer).

Differences from ``default.py``, all to fit a 2-core CPU in about an hour per process: the
full-data reference trains 2 epochs (not 10) and runs once (process 1), candidate sets are
smaller for the expensive strategies, and the transfer trains a narrower VGG8 (widths
16-32-32-64-64, dense 256; the thesis's VGG8 is ~50x the FLOPs). The query-time benchmark and the
prototypes ran earlier (``query_time.py``, ``mid_prototypes.py``). Run the strategies in two processes
(``--config.strategies=...``, one workdir each) and merge with ``summarize --merge``.
"""

from experiments.active_learning.configs.base import base_config


def get_config():
  c = base_config()
  c.schedule = (10, 20, 40, 80, 160, 320, 480, 640, 800, 1000)
  c.full_epochs = 2
  c.lenet_dense = (84,)
  c.candidates = {"uncertainty": 5000, "ceal": 5000, "bald": 2000, "egl": 1000, "coreset": 5000, "balnet": 600,
                  "wasserstein": 600, "dfal": 600, "dqbc": 2000}
  c.transfer.epochs = 30
  c.transfer.max_steps = 1500
  c.vgg_widths = (16, 32, 32, 64, 64)
  c.vgg_dense = 256
  c.parts.benchmark = False
  c.parts.prototypes = False
  return c
