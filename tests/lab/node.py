"""placeholder"""
def ensure_image():
    pass
