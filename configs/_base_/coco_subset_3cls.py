# A 3-class COCO subset as in the course replication (R-ISONet-50 + Faster R-CNN, 1k train / 55
# test images), written by tools/misc/coco_subset.py from COCO 2017 (data/coco/):
#   python tools/misc/coco_subset.py data/coco/annotations/instances_train2017.json \
#       data/coco/annotations/subset/train_3cls_1000_seed0.json --classes person car dog \
#       --num-images 1000
#   python tools/misc/coco_subset.py data/coco/annotations/instances_val2017.json \
#       data/coco/annotations/subset/val_3cls_55_seed0.json --classes person car dog \
#       --num-images 55
# The report does not name its three classes; these are a choice. For others, write the subsets
# with them and change subset_classes here (same names, same order).
# Only subset_* keys: a config takes them with {{_base_.subset_...}} (configs/coco_subset/).
subset_classes = ('person', 'car', 'dog')
subset_data_root = 'data/coco/'
subset_train_ann = 'annotations/subset/train_3cls_1000_seed0.json'
subset_val_ann = 'annotations/subset/val_3cls_55_seed0.json'

subset_train_dataloader = dict(
    dataset=dict(
        data_root=subset_data_root,
        ann_file=subset_train_ann,
        data_prefix=dict(img='train2017/'),
        metainfo=dict(classes=subset_classes)))
subset_val_dataloader = dict(
    dataset=dict(
        data_root=subset_data_root,
        ann_file=subset_val_ann,
        data_prefix=dict(img='val2017/'),
        metainfo=dict(classes=subset_classes)))
subset_val_evaluator = dict(ann_file=subset_data_root + subset_val_ann)
subset_model = dict(roi_head=dict(bbox_head=dict(num_classes=len(subset_classes))))
