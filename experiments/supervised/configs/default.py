"""Supervised baseline, default (paper-scale) config: full Fashion-MNIST, SmallCNN."""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.dataset = "fashion_mnist"
  c.max_train = -1          # -1: all 60000 training images (minus the validation hold-out)
  c.max_test = -1           # -1: all 10000 test images
  c.num_val = 5000          # held out of train for per-epoch validation / early stopping
  c.model = "small_cnn"     # small_cnn | lenet5 | mlp | digits_cnn | vgg8
  c.dropout_rate = 0.25
  c.use_batchnorm = True
  c.epochs = 8
  c.batch_size = 128
  c.learning_rate = 1e-3
  c.schedule = "cosine"
  c.weight_decay = 1e-4
  c.patience = 3            # early stopping on validation loss (epochs)
  c.seed = 0
  c.eval_batch_size = 1000
  c.execution = "auto"      # auto | host | vmap | scan (wassml.train.train_loop; auto: host on CPU)
  c.lock()
  return c
