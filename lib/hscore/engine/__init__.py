"""The engine: fine-tuning a pretrained transformer and recording its training dynamics.

- ``checkpoints``    where a checkpoint is and what its configuration says (no model loaded)
- ``models``         a pretrained model with the head a kind trains, and its tokenizer
- ``pair_template``  OPT sentence pairs encoded as the paper's code encoded them
- ``kinds``          task kinds behind one seam: rules and engine of classification, QA, multiple choice
- ``batches``        padding, mixed precision and the tensor work the kinds share
- ``squad``          extractive-QA logits turned into answers
- ``padding_free``   BERT-style encoders computing on real tokens only
- ``embedding_grad`` the word-embedding gradient kept in one buffer (CPU)
- ``train``          the plain fine-tuning loop that records dynamics at no extra forward pass
- ``recorder``       the same recording inside a user's own Hugging Face ``Trainer`` run (``RecordingTrainer``)
- ``trainer_route``  ``engine: trainer``: the study's runs through the Trainer and the recorder, the loop's procedure
- ``prepared``       a pair's data, tokenized once per process
- ``device``         where to train, and what it ran on
- ``estimate``       how long training will take here, measured before it starts
"""
