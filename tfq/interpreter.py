"""placeholder"""
Interpreter = None
