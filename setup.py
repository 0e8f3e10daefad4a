from setuptools import find_packages, setup

setup(
    name="minigan",
    version="0.1.0",
    description="Every classic GAN from scratch on NumPy/CuPy, with hand-written backward passes",
    packages=find_packages(include=["minigan", "minigan.*"]),
    package_data={"minigan": ["*.npz"], "minigan.data": ["mnist.npz"]},
    python_requires=">=3.10",
    install_requires=["numpy>=1.23", "matplotlib>=3.5", "tqdm>=4.60"],
    extras_require={
        "test": ["pytest>=7", "hypothesis>=6"],
        # CuPy for an NVIDIA GPU: the extra of your CUDA major version (nvidia-smi shows
        # "CUDA Version"); "gpu" is gpu-cuda13. One cupy-cuda* wheel per environment.
        "gpu-cuda12": ["cupy-cuda12x>=13"],
        "gpu-cuda13": ["cupy-cuda13x>=14"],
        "gpu": ["cupy-cuda13x>=14"],
    },
)
