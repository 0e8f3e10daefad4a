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
        "gpu": ["cupy-cuda12x"],
    },
)
