"""Settings shared by every DWE config (the thesis and its reference code, METHODS.md §6)."""

import ml_collections

FASHION_MNIST_CLASSES = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                         "Sneaker", "Bag", "Boot"]


def get_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.dataset = "fashion_mnist"
  c.class_names = list(FASHION_MNIST_CLASSES)
  c.classes = [-1]  # [-1]: every class; else the labels to keep
  c.num_train_images = 60000  # images pairs are drawn from (train split)
  c.num_test_images = 10000  # held-out images for the test pairs (test split)
  c.num_train_pairs = 100000  # train + validation pairs (split by pairs.train_fraction)
  c.num_test_pairs = 10000
  c.progress = True

  c.pairs = ml_collections.ConfigDict()
  # 'wassml': wassml.ot.emd (the library's exact solver); 'pot': POT's ot.emd2 (reference).
  c.pairs.solver = "wassml"
  c.pairs.batch_size = 64  # pairs per vmapped wassml.ot.emd call
  c.pairs.chunk_size = 2000  # pairs per checkpointed chunk
  c.pairs.train_fraction = 0.8  # reference code: 80% train / 20% validation
  c.pairs.parity_pairs = 5  # held-out pairs solved by both wassml.ot.emd and POT

  c.model = ml_collections.ConfigDict()
  c.model.embedding_dim = 50
  c.model.reconstruction_weight = 10.0  # lambda (reference: loss_weights 1e1)
  c.model.sparsity_weight = 1e-3  # l_{1/2} sparsity (reference: 1e-3)

  c.train = ml_collections.ConfigDict()
  c.train.batch_size = 100
  c.train.learning_rate = 1e-3  # Adam (Keras default)
  c.train.max_epochs = 100
  c.train.patience = 3  # early stopping on the validation loss
  c.train.max_seconds = 1e9  # wall-clock cap on training

  c.throughput = ml_collections.ConfigDict()
  c.throughput.enabled = True
  c.throughput.lp_pairs = 200
  c.throughput.wassml_pairs = 4
  c.throughput.independent_pairs = 10000
  c.throughput.pairwise_set_size = 1000

  c.barycenter_per_class = 1000  # thesis: 1000 test samples per class
  c.pga_class = 1
  c.interpolation = ml_collections.ConfigDict()
  c.interpolation.num_steps = 7
  c.interpolation.entropic_epsilon = 1.0  # in squared pixels
  c.interpolation.entropic_iters = 300

  c.neighbours = ml_collections.ConfigDict()
  c.neighbours.num_queries = 10
  c.neighbours.database_size = 200
  c.neighbours.k = 5

  c.cross_dataset = ml_collections.ConfigDict()
  c.cross_dataset.enabled = True
  c.cross_dataset.groups = ml_collections.ConfigDict(
      {"tops": [0, 2, 4, 6], "footwear": [5, 7, 9]})
  c.cross_dataset.num_train_images = 20000
  c.cross_dataset.num_test_images = 3000
  c.cross_dataset.num_train_pairs = 50000
  c.cross_dataset.num_test_pairs = 5000
  c.cross_dataset.max_seconds = 1e9  # wall-clock cap on each group's training
  return c
