"""Models the benchmarks share, built in either Keras flavour (module K)."""


def separable_trunk(K, inputs, stem_filters, blocks):
    """A stride-2 3x3 stem conv + BN + ReLU6, then one depthwise-separable
    block per (filters, strides): depthwise 3x3 + BN + ReLU6, pointwise 1x1
    + BN, with a residual add where the shape allows."""
    x = K.layers.Conv2D(stem_filters, 3, strides=2, padding="same", use_bias=False)(inputs)
    x = K.layers.ReLU(6.0)(K.layers.BatchNormalization()(x))
    for filters, strides in blocks:
        y = K.layers.DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False)(x)
        y = K.layers.ReLU(6.0)(K.layers.BatchNormalization()(y))
        y = K.layers.Conv2D(filters, 1, use_bias=False)(y)
        y = K.layers.BatchNormalization()(y)
        x = K.layers.Add()([x, y]) if x.shape[-1] == filters and strides == 1 else y
    return x


def mobilenet_style(K, input_shape=(32, 32, 3), classes=10):
    """Stem conv + depthwise-separable blocks with BN and ReLU6 + a residual add;
    logits out."""
    inputs = K.Input(input_shape)
    x = separable_trunk(K, inputs, 16, [(32, 1), (32, 1), (64, 2), (64, 1)])
    x = K.layers.GlobalAveragePooling2D()(x)
    return K.Model(inputs, K.layers.Dense(classes)(x))


def audio_conv1d_style(K, frames=400, features=40, classes=12):
    """A keyword-spotting / speech-style stack over [frames, features]:
    Conv1D + BN + ReLU blocks (two strided) with a residual add, a pointwise
    Conv1D, pooled over time; logits out."""
    inputs = K.Input((frames, features))
    x = K.layers.Conv1D(64, 5, padding="same", use_bias=False)(inputs)
    x = K.layers.ReLU()(K.layers.BatchNormalization()(x))
    for filters, strides in [(64, 1), (128, 2), (128, 1), (128, 2)]:
        y = K.layers.Conv1D(filters, 3, strides=strides, padding="same", use_bias=False)(x)
        y = K.layers.BatchNormalization()(y)
        x = K.layers.ReLU()(K.layers.Add()([x, y]) if x.shape[-1] == filters and strides == 1
                            else y)
    x = K.layers.Conv1D(256, 1, activation="relu")(x)
    x = K.layers.GlobalAveragePooling1D()(x)
    return K.Model(inputs, K.layers.Dense(classes)(x))


def fashion_mnist_net(K, input_shape=(28, 28, 1), classes=10):
    """The Fashion-MNIST demo's net (examples/fashion_mnist_demo.py): the
    separable trunk (a 24-channel stem, 7 blocks to 192 channels); 382k
    parameters, 3.4M multiply-adds per image. `K`: keras (Keras 3) or
    tf_keras, the same layers in both."""
    inputs = K.Input(input_shape)
    x = separable_trunk(K, inputs, 24, [(48, 1), (48, 1), (96, 2), (96, 1), (192, 2), (192, 1),
                                        (192, 1)])
    # MobileNetV3's head: pool, then a wide fully-connected layer. Nearly free
    # in compute, and it puts most weights where the int8 file stores one
    # scale per tensor, not 16 bytes of scale and zero point per channel.
    x = K.layers.GlobalAveragePooling2D()(x)
    # (ReLU6 as a layer: tensorflow-model-optimization refuses activation="relu6".)
    x = K.layers.Dropout(0.2)(K.layers.ReLU(6.0)(K.layers.Dense(1280)(x)))
    return K.Model(inputs, K.layers.Dense(classes)(x), name="fashion_mobilenet")
