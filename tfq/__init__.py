"""tfq: TensorFlow / TFLite int8 quantization with a bit-exact C++ delegate."""
from tfq import delegate, quant_math
from tfq.interpreter import Interpreter

__all__ = ["quant_math", "Interpreter", "delegate"]
__version__ = "0.1.0"
