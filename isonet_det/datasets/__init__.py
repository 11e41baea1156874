from .coco_subset import coco_subset, write_coco_subset
from .prototypes import class_prototypes, make_prototype_pairs, make_prototypes
from .synthetic_classes import generate_classification_dataset
from .synthetic_scans import CLASSES as SCAN_CLASSES
from .synthetic_scans import generate_scans_dataset
from .synthetic_shapes import CATEGORIES, generate_shapes_dataset

__all__ = [
    'generate_shapes_dataset', 'CATEGORIES', 'make_prototypes', 'make_prototype_pairs',
    'class_prototypes', 'coco_subset', 'write_coco_subset', 'generate_scans_dataset',
    'SCAN_CLASSES', 'generate_classification_dataset'
]
