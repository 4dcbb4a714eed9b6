"""Models the benchmarks share, built in either Keras flavour (module K)."""


def mobilenet_style(K, input_shape=(32, 32, 3), classes=10):
    """Stem conv + depthwise-separable blocks with BN and ReLU6 + a residual add;
    logits out."""
    inputs = K.Input(input_shape)
    x = K.layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False)(inputs)
    x = K.layers.ReLU(6.0)(K.layers.BatchNormalization()(x))
    for filters, strides in [(32, 1), (32, 1), (64, 2), (64, 1)]:
        y = K.layers.DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False)(x)
        y = K.layers.ReLU(6.0)(K.layers.BatchNormalization()(y))
        y = K.layers.Conv2D(filters, 1, use_bias=False)(y)
        y = K.layers.BatchNormalization()(y)
        x = K.layers.Add()([x, y]) if x.shape[-1] == filters and strides == 1 else y
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
