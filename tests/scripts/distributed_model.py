"""The model both tf.distribute scripts train: Conv -> BN (folded) -> ReLU -> Dense."""
import tfq


def build_quantized_model(K):
    """Returns the compiled tfq model; call inside the strategy's scope."""
    inputs = K.Input((8, 8, 3))
    x = K.layers.Conv2D(4, 3, use_bias=False)(inputs)
    x = K.layers.BatchNormalization()(x)
    x = K.layers.ReLU()(x)
    outputs = K.layers.Dense(2)(K.layers.GlobalAveragePooling2D()(x))
    quantized = tfq.quantize_model(K.Model(inputs, outputs))
    quantized.compile(optimizer="sgd", loss="mse")
    return quantized
