from setuptools import find_packages, setup

with open("README.md", encoding="utf-8") as readme:
    long_description = readme.read()

setup(
    name="tinyorm",
    version="0.1.0",
    description="A lightweight Python ORM with multi-database routing",
    long_description=long_description,
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["tinyorm", "tinyorm.*", "playhouse", "playhouse.*"]),
    package_data={"tinyorm": ["py.typed"]},
    install_requires=["psycopg2-binary>=2.9", "pymysql>=1.0"],
    extras_require={
        "test": ["pytest>=7"],
        "bench": ["peewee>=3.17", "SQLAlchemy>=2.0"],
        "docs": [],
        "lint": ["ruff"],
    },
    entry_points={"console_scripts": ["tinyorm = tinyorm.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Database",
    ],
)
