print("cw-aio")
