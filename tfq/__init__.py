"""tfq: TensorFlow / TFLite int8 quantization with a bit-exact C++ delegate."""
from tfq import delegate, quant_math, registry, requantization, schemes
from tfq.analysis import Report, analyze
from tfq.calibration import CalibrationResult, calibrate
from tfq.converter import convert
from tfq.inspection import inspect
from tfq.interpreter import Interpreter
from tfq.quantize import quantize_model, quantize_scope
from tfq.wrapper import QuantizeWrapper

__all__ = ["analyze", "Report", "calibrate", "CalibrationResult", "convert", "delegate", "inspect", "quant_math",
           "registry", "requantization", "schemes", "Interpreter", "QuantizeWrapper", "quantize_model",
           "quantize_scope"]
__version__ = "0.1.0"
