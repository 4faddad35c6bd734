package labeler
