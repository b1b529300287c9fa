DELETE FROM projection_offsets WHERE consumer_group = $1
